import type { NodeDefinition, TypedField } from '../../editor/twilio-editor';

/** twilio-request: its registration in the editor and its dialog's behaviour (built into the .html beside it). */
(function () {
  // Twilio's API domains, as the runtime knows them (lib/transport/raw-request.ts).
  const DOMAINS = TwilioEditor.rules.twilioDomains;
  // Optional parts start as "none": an empty JSON input would show as invalid.
  const NONE = { value: 'none', label: 'none', hasValue: false };
  const DATA = [NONE, 'json', 'msg', 'flow', 'global', 'jsonata'];
  const FIELDS: Record<string, TypedField & { show?: string | string[] }> = {
    path: { types: ['str', 'msg', 'flow', 'global', 'env', 'jsonata'], value: '/2010-04-01/Accounts/{AccountSid}.json', type: 'str' },
    query: { types: DATA, value: '', type: 'none' },
    form: { types: DATA, value: '', type: 'none' },
    json: { types: DATA, value: '', type: 'none' },
    files: { types: [NONE, 'msg', 'flow', 'global'], value: '', type: 'none' },
    headers: { types: DATA, value: '', type: 'none' },
  };
  const defaults = {
    name: { value: '' },
    configVersion: { value: TwilioEditor.configVersion('twilio-request') },
    account: { value: '', type: 'twilio-config', required: true },
    domain: { value: 'api' },
    method: { value: 'GET' },
    responseType: { value: 'json' },
    timeout: { value: 30, validate: RED.validators.number() },
    retries: { value: 0, validate: RED.validators.number() },
    retryDelay: { value: 1000, validate: RED.validators.number() },
    backoff: { value: 2, validate: RED.validators.number() },
    retryOn: { value: 'server' },
  };
  TwilioEditor.typedDefaults(FIELDS, defaults);

  RED.nodes.registerType('twilio-request', {
    category: 'Twilio',
    color: '#F22F46',
    defaults: defaults,
    inputs: 1,
    outputs: 1,
    icon: 'twilio-request.svg',
    paletteLabel: 'twilio request',
    label: function () {
      // "GET …/Balance.json": the method and the path's last part fit a node.
      const path = this.pathType === 'str' && this.path ? String(this.path) : this.domain + '.twilio.com';
      const last = path.split('/').filter(Boolean).pop() || path;
      return this.name || (this.method || 'GET') + ' ' + (last === path ? path : '…/' + last);
    },
    labelStyle: function () {
      return this.name ? 'node_label_italic' : '';
    },
    onadd: TwilioEditor.useTheOnlyAccount,
    oneditprepare: function () {
      TwilioEditor.upgrade(this);
      TwilioEditor.tooltips(this);
      const domain = $('#node-input-domain');
      DOMAINS.forEach(function (d) {
        $('<option/>')
          .val(d)
          .text(d + '.twilio.com')
          .appendTo(domain);
      });
      domain.val(String(this.domain || 'api'));
      TwilioEditor.typedInputs(FIELDS);
      const toggle = function () {
        const body = ['GET', 'HEAD'].indexOf(String($('#node-input-method').val())) < 0;
        $('.twilio-request-body').toggle(body);
        $('.twilio-request-retry').toggle(Number($('#node-input-retries').val()) > 0);
      };
      $('#node-input-method, #node-input-retries').on('change keyup', toggle);
      toggle();
    },
  } satisfies NodeDefinition as never);
})();
