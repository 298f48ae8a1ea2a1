/**
 * A failed msg with no Catch node in its flow, as a user meets it: the log (and so the debug sidebar)
 * gets a sentence with the code, not an error object; with a Catch node, msg.error is as it was.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { helper, runSend, useRuntime } from '../support/harness';

const ERROR = 20; // Node-RED's log level for errors

describe('a failure no Catch node takes', () => {
  const { simulator } = useRuntime();

  it('is logged as a readable sentence: the code, then the message', async () => {
    const { error } = await runSend(simulator.url, { to: '', toType: 'str', body: 'hi', bodyType: 'str' }, {});
    const logged = (
      (helper as unknown as { log(): { args: unknown[] } }).log().args as Array<[{ level: number; msg: unknown; type?: string }]>
    )
      .map(([entry]) => entry)
      .filter((entry) => entry.level === ERROR && entry.type === 'twilio-send');
    await helper.unload();
    assert.equal(error?.code, 'MISSING_INPUT');
    assert.equal(logged.length, 1, 'logged once');
    assert.equal(typeof logged[0].msg, 'string', 'a sentence, not an error object');
    assert.equal(logged[0].msg, `MISSING_INPUT: ${error!.message}`);
  });
});
