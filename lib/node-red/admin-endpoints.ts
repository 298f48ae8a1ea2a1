/**
 * The rules every admin endpoint of this package follows. Node-RED without adminAuth (a home Pi's
 * default) takes any request that reaches it, so a web page the user visits could post a plain HTML
 * form to these endpoints: only JSON bodies are taken (a page on another site cannot send one without
 * a CORS preflight, which Node-RED does not grant), and a request a browser marks as cross-site is
 * refused outright. Values the editor sends are literal: `${NAME}` is resolved only in values that
 * were deployed, so no request can read the process's environment.
 */
import type { Node, NodeAPI } from 'node-red';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { TwilioNodeError, toTwilioNodeError } from '../core/errors';
import { text } from '../core/texts';
import { resolveEnvReferences } from './typed-fields';

/** Refuses what a page on another site could send: cross-site fetches, and bodies other than JSON. */
function sameSiteJson(req: Request, res: Response, next: NextFunction): void {
  if (req.headers['sec-fetch-site'] === 'cross-site') {
    res.status(403).json({ code: 'FORBIDDEN', error: 'cross-site request refused' });
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD' && !/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '')) {
    res.status(415).json({ code: 'INVALID_INPUT', error: 'only application/json bodies are accepted' });
    return;
  }
  next();
}

type Handler = (req: Request) => Promise<unknown>;

/**
 * Mounts an admin endpoint behind the permission and sameSiteJson; the handler's value is the JSON
 * answer, its coded error a 400 with the code and the text in the runtime's language.
 */
export function adminEndpoint(RED: NodeAPI, method: 'get' | 'post', path: string, permission: string, handler: Handler): void {
  const answer: RequestHandler = (req, res) => {
    handler(req).then(
      (value) => res.json(value),
      (err: unknown) => {
        const error = toTwilioNodeError(err).localise(RED._);
        res.status(400).json({ code: error.code, error: error.message });
      },
    );
  };
  RED.httpAdmin[method](path, RED.auth.needsPermission(permission), sameSiteJson as RequestHandler, answer);
}

interface Deployed {
  /** The running node, whose env resolves the deployed settings. */
  node: Node;
  /** Its settings as deployed, `${NAME}` unresolved (Node-RED resolves whole-value references in the node's own copy). */
  config: Record<string, unknown>;
}

/** The deployed node `id` of `type`, with its settings as written in the flow. */
export function findDeployed(RED: NodeAPI, id: unknown, type: string): Deployed | undefined {
  if (typeof id !== 'string') return undefined;
  const node = RED.nodes.getNode(id);
  if (!node || node.type !== type) return undefined;
  let config: Record<string, unknown> | undefined;
  RED.nodes.eachNode((def) => {
    if (def.id === id) config = def as unknown as Record<string, unknown>;
  });
  return config ? { node, config } : undefined;
}

/**
 * A value the editor sent for a setting that may also be deployed: the deployed text, resolved as
 * the deployed node resolves it, when the editor sent that same text; otherwise the editor's text as
 * it is. A `${NAME}` typed in the editor and not yet deployed is refused, not read from the process.
 */
export function editorValue(RED: NodeAPI, field: string, sent: unknown, deployed: Deployed | undefined, value: unknown): string {
  const given = typeof sent === 'string' ? sent.trim() : '';
  const saved = typeof value === 'string' ? value : '';
  if (deployed && given === saved.trim()) return resolveEnvReferences(RED, deployed.node, saved);
  if (/\$\{[A-Za-z_][A-Za-z0-9_]*\}/.test(given)) throw new TwilioNodeError('INVALID_INPUT', text('envNeedsDeploy', { field }));
  return given;
}
