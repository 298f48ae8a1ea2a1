import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runSend, useRuntime } from './support/harness';

describe('twilio-send: messages', () => {
  const { simulator } = useRuntime();

  it('sends an SMS and outputs the created message', async () => {
    const { output, error } = await runSend(simulator.url, { to: '+15558675310', toType: 'str', body: 'Hello {{payload}}', bodyType: 'str' }, { payload: 'world', topic: 'keep' });
    assert.equal(error, undefined);
    assert.match(output.payload.sid, /^SM[0-9a-f]{32}$/);
    assert.equal(output.payload.body, 'Hello world');
    assert.equal(output.topic, 'keep');
    const [request] = simulator.requests;
    assert.equal(request.params.To, '+15558675310');
    assert.equal(request.params.From, '+15017122661');
  });
});
