/**
 * twilio-config's admin endpoints, for its editor dialog: the resource catalogue the editor builds
 * its lists from, and "Test connection". They follow every endpoint's rules (lib/node-red/admin-endpoints).
 */
import type { NodeAPI } from 'node-red';
import { AccountCredentials, CONNECTION_SETTINGS, ConnectionSetting } from '../../lib/account/account';
import { catalogueForEditor } from '../../lib/catalogue/catalogue';
import { TwilioNodeError, secretRedactor, toTwilioNodeError } from '../../lib/core/errors';
import { text } from '../../lib/core/texts';
import { adminEndpoint, editorValue, findDeployed } from '../../lib/node-red/admin-endpoints';
import { AuthMode, ClientSettings, TwilioCredentials, createTwilioClient } from '../../lib/transport/sdk-client';

export function registerAccountEndpoints(RED: NodeAPI): void {
  // The editor builds its object, filter and field lists from the same catalogue the runtime runs.
  adminEndpoint(RED, 'get', '/twilio-catalogue', 'twilio-config.read', async () => catalogueForEditor());

  // "Test connection" in the editor: fetches the account with the dialog's values, so unsaved edits
  // can be checked before deploy. A saved secret (the dialog shows it as unchanged) is used only with
  // the deployed API base URL, region and edge: the editor never learns it, and cannot send it elsewhere.
  adminEndpoint(RED, 'post', '/twilio-config/test', 'twilio-config.write', async (req) => {
    const body = (req.body ?? {}) as {
      id?: unknown;
      authMode?: unknown;
      region?: unknown;
      edge?: unknown;
      baseUrl?: unknown;
      credentials?: Record<string, unknown>;
    };
    const deployed = findDeployed(RED, body.id, 'twilio-config');
    const saved = (deployed ? RED.nodes.getCredentials(deployed.node.id) : undefined) as AccountCredentials | undefined;
    let redact = (t: string) => t;
    try {
      const authMode: AuthMode = body.authMode === 'authToken' ? 'authToken' : 'apiKey';
      const secretName = authMode === 'apiKey' ? 'apiKeySecret' : 'authToken';
      const given = (name: keyof AccountCredentials) => body.credentials?.[name];
      // The dialog shows a saved secret as __PWRD__; the saved text itself (a `${NAME}` someone knows) is the saved secret too.
      const keepsSavedSecret =
        given(secretName) === undefined ||
        given(secretName) === '__PWRD__' ||
        (saved?.[secretName] !== undefined && String(given(secretName)).trim() === saved[secretName]!.trim());
      const usesSavedSecret = keepsSavedSecret && Boolean(saved?.[secretName]);
      // A deployed `${NAME}` (a saved credential the dialog sent back as it is) is read from the environment
      // only for the deployed base URL, region and edge, like a saved secret.
      let readsDeployedEnv = false;
      const credential = (name: keyof AccountCredentials, label: string) => {
        const value = name === secretName && keepsSavedSecret ? saved?.[name] : given(name);
        if (deployed && /\$\{/.test(saved?.[name] ?? '') && String(value ?? '').trim() === saved![name]!.trim()) readsDeployedEnv = true;
        return editorValue(RED, label, value, deployed, saved?.[name]);
      };
      const credentials: TwilioCredentials = {
        accountSid: credential('accountSid', 'Account SID'),
        authMode,
        apiKeySid: authMode === 'apiKey' ? credential('apiKeySid', 'API Key SID') : '',
        apiKeySecret: authMode === 'apiKey' ? credential('apiKeySecret', 'API Key secret') : '',
        authToken: authMode === 'authToken' ? credential('authToken', 'Auth Token') : '',
      };
      redact = secretRedactor([credentials.apiKeySecret, credentials.authToken]);
      const settings = Object.fromEntries(
        CONNECTION_SETTINGS.map((name) => {
          if ((usesSavedSecret || readsDeployedEnv) && String(body[name] ?? '').trim() !== String(deployed?.config[name] ?? '').trim()) {
            throw new TwilioNodeError('INVALID_INPUT', text('savedSecretElsewhere'));
          }
          return [name, editorValue(RED, name, body[name], deployed, deployed?.config[name])];
        }),
      ) as Pick<ClientSettings, ConnectionSetting>;
      const handle = createTwilioClient(credentials, settings);
      try {
        const account = await handle.client.api.v2010.accounts(credentials.accountSid).fetch();
        return { ok: true, friendlyName: account.friendlyName, status: account.status, type: account.type };
      } finally {
        handle.requestClient.destroy();
      }
    } catch (err) {
      const error = toTwilioNodeError(err, redact).localise(RED._);
      return { ok: false, code: error.code, message: error.message };
    }
  });
}
