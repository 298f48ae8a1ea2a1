/** What twilio-ask's and twilio-page's settings mean (lib/conversation/ask-settings.ts, page-settings.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { askSettings, showOpen, warnWithoutInbound } from '../../../lib/conversation/ask-settings';
import { keysUrl, pageSettings } from '../../../lib/conversation/page-settings';
import { ManualClock } from '../../../lib/core/clock';
import { LIMITS } from '../../../lib/twilio/values';

describe('twilio-ask settings', () => {
  it('keeps every answer rule in its place and names the ones with a problem', () => {
    const answers = [
      { type: 'words' as const, value: 'yes' },
      { type: 'words' as const, value: ' , ' },
      { type: 'regex' as const, value: '(' },
    ];
    const { problems, asking } = askSettings({ answers });
    assert.deepEqual(asking.answers, answers);
    assert.equal(problems.length, 2);
    assert.equal(problems[0], ' , : no word to match');
    assert.match(problems[1], /^\(: /);
  });

  it('defaults: each, a reply that matches nothing ends the question, an hour; the timeout is bounded', () => {
    assert.deepEqual(askSettings({}), {
      problems: [],
      asking: { answers: [], mode: 'each', anythingElse: 'end', timeoutMs: 3_600_000, tellOthers: undefined },
    });
    const chosen = askSettings({ mode: 'first', anythingElse: 'wait', timeout: '90', tellOthers: 'Taken' }).asking;
    assert.deepEqual([chosen.mode, chosen.anythingElse, chosen.timeoutMs, chosen.tellOthers], ['first', 'wait', 90_000, 'Taken']);
    assert.equal(askSettings({ timeout: 10 ** 9 }).asking.timeoutMs, LIMITS.askWaitSeconds.max * 1000);
    assert.equal(askSettings({ mode: 'other' as never, anythingElse: 'other' as never }).asking.mode, 'each');
  });

  it('shows how many questions are open, or none', () => {
    const shown: unknown[] = [];
    const status = {
      success: (key: string) => shown.push([key]),
      working: (key: string, subs?: object) => shown.push([key, subs]),
    };
    showOpen(status, { open: 0, nearest: 0 });
    const nearest = Date.UTC(2026, 0, 1, 12, 0, 0);
    showOpen(status, { open: 3, nearest });
    assert.deepEqual(shown, [
      ['twilio-ask.status.idle'],
      ['twilio-ask.status.open', { count: 3, time: new Date(nearest).toLocaleTimeString() }],
    ]);
  });

  it('warns a second after the start when no twilio-in feeds the account, and not when stopped or fed', async () => {
    const clock = new ManualClock();
    let warned = 0;
    warnWithoutInbound({ sources: 0 }, () => warned++, clock);
    warnWithoutInbound({ sources: 1 }, () => warned++, clock);
    warnWithoutInbound(undefined, () => warned++, clock);
    const stop = warnWithoutInbound({ sources: 0 }, () => warned++, clock);
    stop();
    await clock.advance(999);
    assert.equal(warned, 0);
    await clock.advance(1);
    assert.equal(warned, 1);
  });
});

describe('twilio-page settings', () => {
  it('reads the ladder, the alert, the voice and machine detection', () => {
    const settings = pageSettings(
      { alert: 'Smoke', voice: 'alice', language: 'de-DE', allClear: 'ok', steps: [{ action: 'call', wait: 5 }] },
      () => null,
    );
    assert.equal(settings.alert, 'Smoke');
    assert.equal(settings.allClear, 'ok');
    assert.deepEqual([settings.voice, settings.language, settings.machineDetection], ['alice', 'de-DE', true]);
    assert.deepEqual(settings.policy.ladder, [{ action: 'call', waitMs: 5000 }]);
    assert.equal(pageSettings({ skipVoicemail: false }, () => null).machineDetection, false);
    assert.equal(pageSettings({}, () => null).alert, '');
  });

  it("sends key presses to the chosen twilio-in's public URL only when it passes signed requests on", () => {
    const nodes: Record<string, { publicUrl: () => string; feedsInboundPath: boolean }> = {
      signed: { publicUrl: () => 'https://home.example.com/keys', feedsInboundPath: true },
      unsigned: { publicUrl: () => 'https://home.example.com/open', feedsInboundPath: false },
    };
    const asked: string[] = [];
    const receiver = (id: string) => (asked.push(id), nodes[id]);
    assert.equal(pageSettings({ keysNode: 'signed' }, receiver).keysUrl(), 'https://home.example.com/keys');
    assert.equal(pageSettings({ keysNode: 'unsigned' }, receiver).keysUrl(), undefined);
    assert.equal(pageSettings({ keysNode: 'gone' }, receiver).keysUrl(), undefined);
    assert.equal(pageSettings({}, receiver).keysUrl(), undefined);
    assert.deepEqual(asked, ['signed', 'unsigned', 'gone'], 'looked up when a call needs it, and only when one is chosen');
    assert.equal(keysUrl({ feedsInboundPath: true }), undefined, 'a twilio-in without a public URL');
  });
});
