/**
 * What twilio-get, twilio-query, twilio-update and twilio-delete do with a msg: one catalogue action
 * over the object chosen in the node. Reads the Sid, filters and fields from the node's typed inputs
 * (and, for an update, msg.payload), runs the action or query, and passes the msg on with the result
 * in msg.payload and what was asked in msg.twilio. The node entries wire it into Node-RED.
 */
import type { Node, NodeAPI, NodeMessageInFlow } from 'node-red';
import { TwilioAccount, findAccount, getAccount } from '../account/account';
import { ObjectSpec, findObject, notSupportedText } from '../catalogue/catalogue';
import { Target, buildFields, buildFilters, runAction, runQuery } from '../catalogue/actions';
import {
  ResourceNodeDef,
  getObject,
  positiveInteger,
  readFieldValues,
  readRows,
  readTarget,
  warnIfDeprecated,
} from '../catalogue/resource-inputs';
import { TwilioNodeError, toTwilioNodeError } from '../core/errors';
import type { NodeStatus } from '../node-red/status';
import type { RequestQueue } from '../transport/request-queue';

export type ResourceActionName = 'get' | 'query' | 'update' | 'delete';

type Msg = NodeMessageInFlow;

/** What is passed on in msg.twilio: the object, the action, and the record it was about. */
interface TwilioInfo {
  object: string;
  action: ResourceActionName;
  sid: unknown;
  accountSid: string;
}

interface ResourceActionOptions {
  /** The runtime: typed inputs (RED.util), warnings (RED._), msg ids and copies for one msg per record. */
  RED: NodeAPI;
  node: Node;
  def: ResourceNodeDef;
  action: ResourceActionName;
  status: NodeStatus;
  /** The account to use; by default the config node `def.account` names, looked up per msg. */
  account?: TwilioAccount;
}

export class ResourceAction {
  private readonly RED: NodeAPI;
  private readonly def: ResourceNodeDef;
  private readonly action: ResourceActionName;
  private readonly status: NodeStatus;

  /** Says at deploy whether the chosen object can do the action: a node that can never work should not look ready. */
  constructor(private readonly options: ResourceActionOptions) {
    this.RED = options.RED;
    this.def = options.def;
    this.action = options.action;
    this.status = options.status;
    const spec = findObject(this.def.object)?.actions[this.action];
    if (!spec) this.status.failed('twilio.status.unknownObject', { object: this.def.object });
    else if (spec.notSupported) this.status.warning('twilio.status.notSupported');
  }

  /** The account's request queue, if the node has an account: its close takes back the node's requests there. */
  get queue(): RequestQueue | undefined {
    return (this.options.account ?? findAccount(this.RED, this.def.account))?.queue;
  }

  /** Runs the action for `msg` and sends the result on (a query in `each` mode: one msg per record). */
  async run(msg: Msg, send: (msg: Msg) => void): Promise<void> {
    const { RED, def, action, status } = this;
    const account = this.options.account ?? getAccount(RED, def.account);
    const object = getObject(def.object, action);
    if (object.actions[action]!.notSupported) throw new TwilioNodeError('NOT_SUPPORTED', notSupportedText(object, action));
    warnIfDeprecated(RED, this.options.node, object);
    const { raw, target } = await readTarget(RED, this.options.node, msg, def, object, action);
    const twilio: TwilioInfo = {
      object: object.name,
      action,
      sid: typeof raw === 'string' ? raw : target.parts.sid,
      accountSid: target.accountSid ?? account.accountSid,
    };
    status.working('twilio.status.requesting');
    try {
      if (action === 'query') return this.sendRecords(msg, await this.query(account, object, target, msg), twilio, send);
      msg.payload = await this.act(account, object, target, msg, action);
      status.success(`twilio.status.${action}`);
    } catch (err) {
      throw toTwilioNodeError(err, account.redact);
    }
    send(Object.assign(msg, { twilio }));
  }

  /** Get, update or delete: the record as Twilio gives it back (delete: true). */
  private async act(account: TwilioAccount, object: ObjectSpec, target: Target, msg: Msg, action: Exclude<ResourceActionName, 'query'>) {
    const params =
      action === 'update'
        ? await readFieldValues(this.RED, this.options.node, msg, this.def, object, action)
        : buildFields(object, action, {});
    return runAction(account.clientFor(this.options.node), object, action, target, params);
  }

  /** The records the node's filters select, page by page up to its limit, with the count in the status. */
  private async query(account: TwilioAccount, object: ObjectSpec, target: Target, msg: Msg): Promise<unknown[]> {
    const { def, status } = this;
    const rows = await readRows(this.RED, this.options.node, msg, def.filters);
    const filters = buildFilters(
      object,
      rows.map(({ row, value }) => ({ name: row.name, op: row.op, value })),
    );
    const records = await runQuery(account.clientFor(this.options.node), object, target, {
      filters,
      limit: positiveInteger('Limit', def.limit, 50, true),
      pageSize: Math.min(positiveInteger('Page size', def.pageSize, 50, false), 1000),
      onPage: (count) => status.working('twilio.status.record', { count }),
    });
    status.success('twilio.status.record', { count: records.length });
    return records;
  }

  /** A query's records: as an array in msg.payload, or one msg each with msg.parts as a split node writes them. */
  private sendRecords(msg: Msg, records: unknown[], twilio: TwilioInfo, send: (msg: Msg) => void): void {
    if (this.def.output !== 'each') {
      send(Object.assign(msg, { payload: records, twilio }));
      return;
    }
    // What a split node writes, so a join node in automatic mode rebuilds the array.
    const id = this.RED.util.generateId();
    records.forEach((record, index) => {
      const part = this.RED.util.cloneMessage(msg);
      send(Object.assign(part, { payload: record, twilio, parts: { id, index, count: records.length, type: 'array', len: 1 } }));
    });
  }
}
