/** Twilio's X-Twilio-Signature on a webhook, checked with the SDK's own validators. */
import twilio from 'twilio';

/** A webhook's body as sent (`raw`, what a bodySHA256 covers) and as read (a JSON value once checked). */
export type Body = { kind: 'form'; raw: string; params: Record<string, string> } | { kind: 'json'; raw: string; value?: unknown };

/**
 * Checks the signature: a URL that carries bodySHA256 by that hash of the raw body, whatever the
 * content type says (Twilio then signs the URL alone, so the body must match the hash: an empty form
 * body must not pass on the URL's signature); other requests by their form parameters. The SDK also
 * tries the URL with and without its default port, as Twilio's signing does.
 */
export function isValidSignature(authToken: string, signature: string | undefined, url: string, body: Body): boolean {
  if (!signature) return false;
  try {
    if (body.kind === 'json' || new URL(url).searchParams.has('bodySHA256'))
      return twilio.validateRequestWithBody(authToken, signature, url, body.raw);
    return twilio.validateRequest(authToken, signature, url, body.params);
  } catch {
    return false; // a malformed URL or bodySHA256 is an invalid signature, not a crash
  }
}
