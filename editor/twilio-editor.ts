/*
 * Editor helpers shared by the Twilio nodes: the value rules, config versions, the resource
 * catalogue (served by the runtime at twilio-catalogue, the same table the runtime executes) and the
 * object, Sid, filter and field inputs built from it. Built (editor/tsconfig.json) into the
 * resources/twilio-editor.js that each node's .html loads.
 */
import type { Action, FieldSpec, ObjectSpec, SidPart } from '../lib/catalogue/catalogue';
import type { LIMITS, PATTERNS } from '../lib/twilio/values';

/** What the build puts in front of this script: the runtime's rules, served as data. */
interface Rules {
  patterns: Record<keyof typeof PATTERNS, string>;
  limits: typeof LIMITS;
  configVersions: Record<string, number>;
  twilioDomains: string[];
}

/** An object of the catalogue as the editor gets it: with the Sid parts and fields of each action. */
type EditorObject = ObjectSpec & { editor: Partial<Record<Action, { parts: SidPart[]; fields: FieldSpec[] }>> };

/** A node being edited: its type, its translations, and its properties. */
export interface EditedNode {
  type: string;
  name?: string;
  _: (key: string, subs?: Record<string, unknown>) => string;
  configVersion?: number;
  [property: string]: unknown;
}

interface Row {
  name: string;
  op?: string;
  value: unknown;
  valueType: string;
}

export interface TypedField {
  types: Array<string | object>;
  value: string;
  type?: string;
  check?: RegExp;
}

export type Defaults = Record<
  string,
  // A validate may return the reason as text (Node-RED 3.1 and later show it on the invalid node).
  { value: unknown; type?: string; required?: boolean; validate?: (this: EditedNode, v: unknown) => boolean | string }
>;

/** A node type's definition for RED.nodes.registerType, as our nodes write it (nodes/<type>/<type>.editor.ts). */
export interface NodeDefinition {
  category: string;
  color?: string;
  defaults: Defaults;
  credentials?: Record<string, { type: string; required?: boolean; validate?: (this: EditedNode, v: unknown) => boolean }>;
  inputs?: number;
  outputs?: number;
  icon?: string;
  align?: 'left' | 'right';
  paletteLabel?: string;
  label?: string | ((this: EditedNode) => string);
  labelStyle?: string | ((this: EditedNode) => string);
  inputLabels?: string | ((this: EditedNode) => string);
  outputLabels?: string | string[] | ((this: EditedNode, index: number) => string);
  oneditprepare?: (this: EditedNode) => void;
  oneditsave?: (this: EditedNode) => void;
  onadd?: (this: EditedNode) => void;
}

interface EditorWindow {
  TwilioRules: Rules;
  TwilioEditor?: TwilioEditorApi;
}

/** What every node's editor script uses, as the global TwilioEditor (see nodes/<type>/<type>.editor.ts). */
export type TwilioEditorApi = ReturnType<typeof createTwilioEditor>;

// A function declaration, not a binding: the script is loaded once per node's .html, and may be again.
function createTwilioEditor(window: EditorWindow) {
  const RULES = window.TwilioRules;

  /** A rule's pattern without its anchors, to combine with others. */
  function rule(name: keyof Rules['patterns']): string {
    return RULES.patterns[name].replace(/^\^/, '').replace(/\$$/, '');
  }
  function sidRule(prefix: string): string {
    return prefix + RULES.patterns.sidHex;
  }
  /** A whole value that is one of `rules` (or empty, or a ${NAME} reference, when asked). */
  function anyOf(rules: string[], options: { env?: boolean; optional?: boolean } = {}): RegExp {
    const all = rules.slice();
    if (options.env) all.push(rule('envReference'));
    if (options.optional) all.unshift('\\s*');
    return new RegExp(`^(${all.join('|')})$`);
  }

  /**
   * A node's config brought to its type's current version in the editor too, by the same steps as
   * lib/node-red/config-version.ts (the runtime moved the state of a context store when the node
   * started; the dialog only forgets the old setting).
   */
  const toStateEngine = (node: EditedNode): void => {
    if (typeof node.stateIn !== 'string') node.stateIn = '';
    delete node.contextStore;
  };
  const EDITOR_MIGRATIONS: Record<string, Array<((node: EditedNode) => void) | undefined>> = {
    'twilio-send': [undefined, toStateEngine],
    'twilio-in': [undefined, toStateEngine],
    'twilio-ask': [undefined, toStateEngine],
    'twilio-page': [undefined, toStateEngine],
  };
  function configVersion(type: string): number {
    return RULES.configVersions[type] || 0;
  }
  function upgrade(node: EditedNode): void {
    const steps = EDITOR_MIGRATIONS[node.type] ?? [];
    const from = typeof node.configVersion === 'number' ? node.configVersion : 0;
    for (let v = from; v < steps.length; v++) steps[v]?.(node);
    node.configVersion = Math.max(from, configVersion(node.type));
    fillAbsentDefaults(node);
  }

  /**
   * A flow saved before a property existed (an older example, an import) opens with the property's
   * default, never a blank choice. Node-RED has already put the node's values into the dialog's
   * inputs when oneditprepare runs, so an input filled here gets its value too.
   */
  function fillAbsentDefaults(node: EditedNode): void {
    const defaults = (node as { _def?: { defaults?: Record<string, { value?: unknown; type?: string }> } })._def?.defaults ?? {};
    for (const [name, spec] of Object.entries(defaults)) {
      if (node[name] !== undefined || spec.value === undefined || spec.type) continue;
      node[name] = JSON.parse(JSON.stringify(spec.value));
      const input = $(`#node-input-${name}, #node-config-input-${name}`);
      if (input.attr('type') === 'checkbox') input.prop('checked', node[name] === true);
      else if (typeof node[name] !== 'object') input.val(String(node[name]));
    }
  }

  let catalogue: EditorObject[] | null = null;
  let loading: JQuery.Promise<EditorObject[]> | null = null;
  const ALL = ['str', 'msg', 'flow', 'global', 'env', 'jsonata'];
  const TYPES_BY_VALUE: Record<string, string[]> = {
    boolean: ['bool', 'msg', 'flow', 'global', 'env', 'jsonata'],
    integer: ['num', 'msg', 'flow', 'global', 'env', 'jsonata'],
    list: ['str', 'json', 'msg', 'flow', 'global', 'env', 'jsonata'],
  };

  function load(): JQuery.Promise<EditorObject[]> {
    loading ??= $.getJSON('twilio-catalogue').then((data: EditorObject[]) => {
      catalogue = data;
      return data;
    });
    return loading;
  }

  function find(name: unknown): EditorObject | undefined {
    return (catalogue ?? []).find((o) => o.name === name);
  }

  // The Sid parts and fields of an object's action, as the runtime works them out (lib/catalogue).
  function partsFor(object: EditorObject | undefined, action: Action): SidPart[] {
    return object?.editor[action]?.parts ?? [];
  }

  function fieldsFor(object: EditorObject | undefined, action: Action): FieldSpec[] {
    return object?.editor[action]?.fields ?? [];
  }

  /** Why Twilio's API lacks this action, in the editor's language (the catalogue's English otherwise). */
  function notSupportedReason(node: EditedNode, object: EditorObject, action: Action): string {
    const reason = object.actions[action]?.notSupported;
    if (!reason) return '';
    const key = `twilio.notSupported.${object.name}.${action}`;
    const translated = node._(key);
    return translated && translated !== key ? translated : reason;
  }

  const accountScoped = (object: EditorObject, action: Action) => /^account\./.test(object.actions[action]?.call ?? '');

  function sidPlaceholder(node: EditedNode, object: EditorObject, action: Action): string {
    const parts = partsFor(object, action)
      .map((p) => p.example)
      .join(':');
    if (!parts) return accountScoped(object, action) ? node._('twilio.editor.subaccountHint') : '';
    return accountScoped(object, action) ? node._('twilio.editor.sidHint', { sid: parts }) : parts;
  }

  /**
   * What the Sid row holds: a record's Sid for get, update and delete; for a query, the record a
   * list belongs to (a call's recordings), or with no such parent only a subaccount to list from.
   */
  function sidLabel(node: EditedNode, object: EditorObject, action: Action): string {
    if (action !== 'query') return node._('twilio.editor.sid');
    return node._(partsFor(object, action).length > 0 ? 'twilio.editor.parentSid' : 'twilio.editor.subaccount');
  }

  /** "Message" → "Messages", for labels, before and after the catalogue has loaded. */
  function plural(name: string): string {
    const o = find(name);
    return o ? o.plural : `${name}s`;
  }

  /** The types a row's value offers, by the field's kind. */
  const typesFor = (spec: { type: string } | undefined) => TYPES_BY_VALUE[spec?.type ?? ''] ?? ALL;

  /** A list of rows: a name chosen from `choices`, an operator for dates, a typed value. */
  function rowsEditor(container: JQuery, choices: FieldSpec[], rows: Row[], withOperator: boolean, t: (key: string) => string): void {
    container.css({ 'min-height': '120px', 'min-width': '450px' }).editableList({
      addItem(row: JQuery, _index: number, data: Partial<Row>) {
        const name = $('<select/>', { style: 'width: 30%' }).appendTo(row);
        for (const c of choices) $('<option/>').val(c.name).text(c.name).appendTo(name);
        const op = $('<select/>', { style: 'width: 16%; margin-left: 4px' }).appendTo(row);
        for (const o of ['on', 'before', 'after'])
          $('<option/>')
            .val(o)
            .text(t(`twilio.editor.op.${o}`))
            .appendTo(op);
        const value = $('<input type="text"/>', { style: 'width: 40%; margin-left: 4px' }).appendTo(row);
        const chosen = () => choices.find((c) => c.name === name.val());
        let typed = false;
        const update = () => {
          const spec = chosen() ?? ({ name: '', type: 'string' } as FieldSpec);
          op.toggle(withOperator && spec.type === 'date');
          // Node-RED's typings list only its own type names; these are those names.
          const types = typesFor(spec) as never;
          if (typed) value.typedInput('types', types);
          else value.typedInput({ types });
          value.typedInput('width', withOperator && spec.type === 'date' ? '48%' : '64%');
          typed = true;
          const placeholder =
            spec.type === 'enum' || spec.options
              ? (spec.options ?? []).join(' | ')
              : spec.type === 'date'
                ? 'YYYY-MM-DD HH:MM:SS'
                : spec.prefix
                  ? `${spec.prefix}…`
                  : '';
          value.attr('placeholder', placeholder);
        };
        name.val(data.name ?? choices[0]?.name ?? '');
        op.val(data.op ?? 'on');
        update();
        value.typedInput('type', data.valueType ?? typesFor(chosen())[0]);
        value.typedInput('value', data.value === undefined ? '' : String(data.value));
        name.on('change', update);
        row.data('read', (): Row => ({
          name: String(name.val()),
          op: op.is(':visible') ? String(op.val()) : undefined,
          value: value.typedInput('value'),
          valueType: value.typedInput('type'),
        }));
      },
      removable: true,
      sortable: true,
    });
    for (const r of rows) container.editableList('addItem', r);
  }

  function readRows(container: JQuery): Row[] {
    const out: Row[] = [];
    container.editableList('items').each(function (this: HTMLElement) {
      out.push(($(this).data('read') as () => Row)());
    });
    return out;
  }

  interface PrepareOptions {
    /** The select holding the object (twilio-send: its resource). */
    objectField?: string;
    objectProperty?: string;
    /** twilio-send keeps its own Message and Call entries and appends the other creatable objects. */
    keepOptions?: boolean;
    exclude?: string[];
  }

  /** Builds a resource node's dialog: the object list for `action`, the Sid hint, and the filter or field rows. */
  function prepare(node: EditedNode, action: Action, options: PrepareOptions = {}): JQuery.Promise<void> {
    upgrade(node);
    const objectSelect = $(options.objectField ?? '#node-input-object');
    const sid = $('#node-input-sid');
    if (sid.length) sid.typedInput({ types: ALL, typeField: '#node-input-sidType' } as never);
    return load().then((objects) => {
      tooltips(node);
      const current = node[options.objectProperty ?? 'object'];
      if (!options.keepOptions) objectSelect.empty();
      for (const o of objects.filter((x) => x.actions[action] && !(options.exclude ?? []).includes(x.name))) {
        $('<option/>')
          .val(o.name)
          .text(o.label + (o.actions[action]!.notSupported ? ` — ${node._('twilio.editor.notSupported')}` : ''))
          .appendTo(objectSelect);
      }
      if (current) objectSelect.val(String(current));
      let rowsContainer = $('#twilio-rows');
      let rowsObject: string | null = null;
      const refresh = () => {
        const object = find(objectSelect.val());
        if (!object) return;
        const spec = object.actions[action];
        $('#twilio-not-supported')
          .text(notSupportedReason(node, object, action))
          .toggle(Boolean(spec?.notSupported));
        if (sid.length) {
          sid.typedInput('width', '70%');
          $('#twilio-sid-hint').text(sidPlaceholder(node, object, action));
          $('label[for="node-input-sid"] span').text(sidLabel(node, object, action));
          sid.closest('.form-row').toggle(partsFor(object, action).length > 0 || accountScoped(object, action));
        }
        if (rowsContainer.length) {
          const choices = action === 'query' ? [...(object.filters ?? [])] : fieldsFor(object, action);
          // The saved rows belong to the saved object; another object starts with none.
          const saved = (node[action === 'query' ? 'filters' : 'fields'] as Row[] | undefined) ?? [];
          const keep = rowsObject === null && object.name === current ? saved : [];
          const fresh = $('<ol id="twilio-rows"/>');
          rowsContainer.closest('.form-row').find('.red-ui-editableList, #twilio-rows').remove();
          $('#twilio-rows-row').append(fresh);
          rowsContainer = fresh;
          rowsEditor(
            rowsContainer,
            choices,
            keep.filter((r) => choices.some((c) => c.name === r.name)),
            action === 'query',
            (k) => node._(k),
          );
          rowsObject = object.name;
          $('#twilio-rows-row').toggle(choices.length > 0);
        }
      };
      objectSelect.on('change', refresh);
      refresh();
    });
  }

  function save(node: EditedNode, action: Action): void {
    const rowsContainer = $('#twilio-rows');
    if (!rowsContainer.length) return;
    node[action === 'query' ? 'filters' : 'fields'] = $('#twilio-rows-row').is(':visible') ? readRows(rowsContainer) : [];
  }

  // --- what twilio-get, -query, -update and -delete share ---------------------------------------

  /** Their defaults: the account, the object and its Sid, plus what the action adds. */
  function resourceDefaults(action: Action): Defaults {
    const defaults: Defaults = {
      name: { value: '' },
      configVersion: { value: configVersion(`twilio-${action}`) },
      account: { value: '', type: 'twilio-config', required: true },
      object: { value: 'Message', required: true },
      sid: { value: action === 'query' ? '' : action === 'update' ? 'sid' : 'payload' },
      sidType: { value: action === 'query' ? 'str' : 'msg' },
    };
    if (action === 'query') {
      defaults.filters = { value: [] };
      defaults.limit = { value: 50, validate: RED.validators.number() };
      defaults.pageSize = { value: 50, validate: RED.validators.number() };
      defaults.output = { value: 'array' };
    }
    if (action === 'update') {
      defaults.fields = { value: [] };
      defaults.payloadFields = { value: true };
    }
    return defaults;
  }

  /** "get Message", "query Messages": a node's label says what it does. */
  function resourceLabel(action: Action) {
    return function (this: EditedNode): string {
      const object = String(this.object);
      return this.name || this._(`twilio-${action}.label.node`, { object: action === 'query' ? plural(object) : object });
    };
  }

  function labelStyle(this: EditedNode): string {
    return this.name ? 'node_label_italic' : '';
  }

  // --- nodes whose fields are typed inputs (send, reply, request) ------------------------------

  /**
   * Adds `<field>` and `<field>Type` defaults for each field: { value, type, types, check? }. A check
   * (a RegExp) applies to literal (str) values only; values read at run time are checked then.
   */
  function typedDefaults(fields: Record<string, TypedField>, defaults: Defaults): Defaults {
    for (const [name, field] of Object.entries(fields)) {
      defaults[name] = { value: field.value };
      const check = field.check;
      if (check) {
        defaults[name].validate = function (this: EditedNode, v: unknown) {
          const type = this[`${name}Type`] || 'str';
          return type !== 'str' || !v || check.test(String(v));
        };
      }
      defaults[`${name}Type`] = { value: field.type || 'str' };
    }
    return defaults;
  }

  /** Turns each field's input into a typed input in the open dialog. */
  function typedInputs(fields: Record<string, TypedField>): void {
    for (const [name, field] of Object.entries(fields)) {
      const input = $(`#node-input-${name}`);
      const typeField = $(`#node-input-${name}Type`);
      // Flows written by hand may lack a field: give it its default type, and keep an unset bool
      // off (an empty bool input would show, and save, "true").
      if (!typeField.val()) typeField.val(field.type || 'str');
      if (typeField.val() === 'bool' && !input.val()) input.val('false');
      input.typedInput({ types: field.types, typeField: `#node-input-${name}Type` } as never);
    }
  }

  /**
   * Hover help on each field's label, from the node's catalogue: `<type>.tip.<field>`, else the
   * shared `twilio.tip.<field>`. Fields without a tip keep their label alone.
   */
  function tooltips(node: EditedNode): void {
    $('.red-ui-editor label[for^="node-input-"], .red-ui-editor label[for^="node-config-input-"]').each(function (this: HTMLElement) {
      const label = $(this);
      if (label.data('twilio-tip')) return;
      const field = String(label.attr('for')).replace(/^node-(config-)?input-/, '');
      const tip = [`${node.type}.tip.${field}`, `twilio.tip.${field}`]
        .map((key) => {
          const text = node._(key);
          return text !== key ? text : null;
        })
        .find(Boolean);
      if (!tip) return;
      label.data('twilio-tip', true).addClass('twilio-has-tip');
      RED.popover.tooltip(label, tip);
    });
  }

  /**
   * Fills the dialog's "keep state in" select with the context stores settings.js configures (the
   * editor's settings list them) and selects the node's own; every node that keeps state has one.
   */
  /**
   * The "Keep state in" choice: the account's state engine (the embedded store, or the account's
   * Redis), or one of Node-RED's context stores (written every flush interval, one instance only).
   */
  function stateStores(node: EditedNode): void {
    const settings = RED.settings as unknown as { context?: { stores?: string[] } };
    const select = $('#node-input-stateIn');
    for (const store of (settings.context && settings.context.stores) || [])
      $('<option/>').val(`context:${store}`).text(node._('twilio.state.context', { store })).appendTo(select);
    select.val(String(node.stateIn || ''));
    const hint = $('#twilio-state-hint');
    const show = () =>
      hint.text(node._(String(select.val() || '').startsWith('context:') ? 'twilio.state.contextHint' : 'twilio.state.engineHint'));
    select.on('change', show);
    show();
  }

  /**
   * A node added with no account takes this Node-RED's account when it has exactly one: a node dropped
   * from the palette, and every node of an example imported from Import > Examples (the examples carry
   * no account of their own, so a second one imports in one click and uses the account already there).
   * Node-RED calls a type's onadd for each node it adds to the canvas, after validating the import.
   */
  function useTheOnlyAccount(this: EditedNode): void {
    if (this.account) return;
    type Account = { id: string; type: string; users: unknown[] };
    const accounts: Account[] = [];
    RED.nodes.eachConfig((config) => {
      const node = config as unknown as Account;
      if (node.type === 'twilio-config') accounts.push(node);
      return true;
    });
    if (accounts.length !== 1) return; // none yet, or a choice to make in the dialog
    const [account] = accounts;
    this.account = account.id;
    if (!account.users.includes(this)) account.users.push(this);
    (RED.editor as unknown as { validateNode(node: unknown): void }).validateNode(this);
  }

  const api = {
    stateStores,
    useTheOnlyAccount,
    rules: RULES,
    rule,
    sidRule,
    anyOf,
    configVersion,
    upgrade,
    tooltips,
    typedDefaults,
    typedInputs,
    load,
    find,
    plural,
    prepare,
    save,
    partsFor,
    fieldsFor,
    resourceDefaults,
    resourceLabel,
    labelStyle,
  };
  void load();
  return api;
}

(function (window: EditorWindow) {
  window.TwilioEditor ??= createTwilioEditor(window);
})(window as unknown as EditorWindow);
