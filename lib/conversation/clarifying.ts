/**
 * What the board and its nodes text to people: the localised texts (`twilio.people.*`) and the
 * clarifying message that lists the open questions with their codes, within one message.
 */
import { Translate, render } from '../core/texts';

/** What a node texts to people (`twilio.people.*`), in Node-RED's language; English where it has no translation. */
export type Say = (key: string, subs: Record<string, string | number>) => string;

export function peopleTexts(translate: Translate): Say {
  return (key, subs) => render({ key: `twilio.people.${key}`, subs }, translate);
}

/** Twilio's limit for one message's body (error 21617 above it). */
export const MESSAGE_LIMIT = 1600;

/**
 * The clarifying message: how many questions are open, and each with its code, the most recent
 * first; within one message (Twilio refuses a longer one), so when they do not all fit it lists the
 * most recent and says how many more there are. A single question too long to fit is cut.
 */
export function clarifyingMessage(say: Say, open: ReadonlyArray<{ code: string; summary: string }>): string {
  const items = open.map((q) => say('clarifyItem', { code: q.code, question: q.summary })).reverse();
  const compose = (listed: string[]) => {
    const more = items.length - listed.length;
    const list = more > 0 ? [...listed, say('clarifyMore', { count: more })] : listed;
    return say('clarify', { count: open.length, list: list.join('\n') });
  };
  const listed: string[] = [];
  for (const item of items) {
    if (compose([...listed, item]).length > MESSAGE_LIMIT) break;
    listed.push(item);
  }
  if (listed.length === 0 && items.length > 0) {
    // Not even the most recent fits whole: it is cut to the room left (whole characters, never half an emoji).
    const chars = [...items[0]];
    let keep = Math.max(MESSAGE_LIMIT - compose([]).length, 0);
    while (keep > 0 && compose([`${chars.slice(0, keep).join('')}…`]).length > MESSAGE_LIMIT) keep--;
    listed.push(`${chars.slice(0, keep).join('')}…`);
  }
  return compose(listed);
}
