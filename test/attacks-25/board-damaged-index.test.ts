/**
 * Attack on the question board's index-first routing (lib/conversation/questions.ts): damaged index
 * records among a person's (a writer of another version, a hand edit, a half-restored backup: wrong
 * shapes, wrong types, huge strings, a record naming another person, one long expired, one naming
 * this very instance, one for another of our numbers). Every text from that person that no question
 * here takes is read on them now. The promise: never a crash, nothing of them routed (no text
 * forwarded into nothing, no clarifying message listing them), the texts are news; and a real
 * question held on another instance among them still gets its answer.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { until } from '../support/assertions';
import { boardInstances, claimedIn, message, redisEngines } from '../support/boards';
import { noRedis, suiteNeeding } from '../support/redis';

const ANN = '+15555552541';
const ACCOUNT = 'AC00000000000000000000000000002541';

const instance = boardInstances(ACCOUNT);

const HUGE = 'x'.repeat(2_000_000);
const DAMAGED: unknown[] = [
  null,
  'text',
  42,
  [],
  {},
  { id: 1, person: ANN, code: '42', summary: 's', instance: 'ghost' },
  { id: 'd1', person: ANN, code: 42, summary: 's', instance: 'ghost' },
  { id: 'd2', person: ANN, code: '42', summary: 's' },
  { id: 'd3', person: ANN, code: '42', summary: 's', instance: 'ghost', askedAt: 'yesterday' },
  { id: 'd4', person: ANN, code: '42', summary: 's', instance: 'ghost', deadline: '9999' },
  { id: 'd5', person: ANN, code: '42', summary: 's', instance: 'ghost', ourNumber: 15017122661 },
  { id: 'd6', person: ANN, code: HUGE, summary: 's', instance: 7 },
  { id: HUGE, person: ANN, code: '42', summary: HUGE, instance: ['ghost'] },
  { id: 'd8', person: '+15555559999', code: '42', summary: 'another person’s', instance: 'ghost' },
  { id: 'd9', person: ANN, code: '42', summary: 'long over', instance: 'ghost', deadline: 1_000 },
  { id: 'd10', person: ANN, code: '42', summary: 'this instance’s', instance: 'B' },
  { id: 'd11', person: ANN, code: '42', summary: 'another number', instance: 'ghost', ourNumber: '+15017120000' },
  { question: { id: 'd12' }, nested: { deep: { deeper: [1, 2, 3] } } },
];

suiteNeeding(
  noRedis,
  'attack: damaged index records read by the look',
  () => {
    const { open } = redisEngines('a25damaged:');

    it('never a crash, nothing of them routed, the texts news; a real question among them still answered', async () => {
      const raw = open();
      const prefix = `board/${ACCOUNT}/q/${encodeURIComponent(ANN)}/`;
      for (const [i, value] of DAMAGED.entries()) await raw.put(`${prefix}${String(i).padStart(2, '0')}damaged`, value);
      const a = instance(open(), 'A');
      const b = instance(open(), 'B');
      await Promise.all([a.board.ready, b.board.ready]);
      // Only the well-formed one for another of our numbers counts (openFor counts every number's).
      assert.equal(b.board.openFor(ANN), 1, 'nothing damaged mirrored at start');
      for (const text of ['yes', 'yes 42', '42', 'hello #42!']) {
        assert.equal(await claimedIn(b.hub.publish(message(ANN, text))), false, `"${text}": news`);
      }
      assert.deepEqual(b.clarified, [], 'no clarifying message listing them');
      assert.equal((await raw.scan(`board/${ACCOUNT}/fwd/`, 10)).length, 0, 'nothing forwarded into nothing');
      // A real question on A among them: its answer, landing on B, reaches it.
      a.ask('real q ann', ANN, '55');
      await a.board.written(['real q ann']);
      assert.equal(await claimedIn(b.hub.publish(message(ANN, 'ok 55'))), true, 'the real question’s answer is claimed');
      await until(() => a.got.length === 1, 'the answer to reach A');
      assert.deepEqual(a.got, ['real q ann:ok 55']);
      assert.deepEqual([a.errors, b.errors, a.lost, b.lost], [[], [], [], []]);
    });
  },
  { timeout: 60_000 },
);
