/**
 * Attack on the question board's index-first routing (lib/conversation/questions.ts): one person
 * with more open questions than one index read returns (SCAN_PAGE, 500). An operator's alert flow
 * that asks the on-call engineer to acknowledge each alert does this in an alert storm: 600 alerts
 * in the hour, each a twilio-ask to the same person, each with its code. They are held on instance A;
 * instance B mirrors all of them (its start reads the index page by page, and it hears `opened`).
 *
 * The promise: a reply quoting the code of an open question answers it, on whichever instance it
 * lands. B's mirror knows the question, so the text is routed on a fresh index read: one bounded
 * read of the person's records, which returns the first 500 of them, and every mirrored question not
 * among them is dropped as "gone from the index". The acknowledgement of alert 600 (its record
 * sorts after the first 500) then answers nothing: it is news, and the alert waits for its timeout.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { sleep, until } from '../support/assertions';
import { boardInstances, claimedIn, message, redisEngines } from '../support/boards';
import { noRedis, suiteNeeding } from '../support/redis';

const ANN = '+15555552531';
const ACCOUNT = 'AC00000000000000000000000000002531';

const instance = boardInstances(ACCOUNT);

const ALERTS = 600;

suiteNeeding(
  noRedis,
  'attack: one person with more open questions than one index read returns',
  () => {
    const { open } = redisEngines('a25page:');

    it(`${ALERTS} alerts open for one person on A: the acknowledgement of the last, landing on B, answers it`, async () => {
      const a = instance(open(), 'A');
      const ids: string[] = [];
      for (let i = 0; i < ALERTS; i++) {
        const id = `alert ${String(i).padStart(4, '0')} ann`;
        ids.push(id);
        a.ask(id, ANN, String(1000 + i));
      }
      await a.board.written(ids);
      // B starts now: it reads the whole index, page by page.
      const b = instance(open(), 'B');
      await b.board.ready;
      assert.equal(b.board.openFor(ANN), ALERTS, 'B mirrors every open alert');
      const last = ALERTS - 1;
      const claimed = await claimedIn(b.hub.publish(message(ANN, `ack ${1000 + last}`)));
      if (claimed) await until(() => a.got.length === 1, 'the acknowledgement to reach A');
      await sleep(300);
      const detail = `claimed on B ${claimed}, answers ${JSON.stringify(a.got)}, B now mirrors ${b.board.openFor(ANN)} of ${ALERTS}`;
      assert.deepEqual(a.got, [`${ids[last]}:ack`], `the alert it quotes takes it: ${detail}`);
      assert.equal(claimed, true, `not news: ${detail}`);
    });
  },
  { timeout: 60_000 },
);
