import type { EditedNode, NodeDefinition } from '../../editor/twilio-editor';

/** twilio-config: its registration in the editor and its dialog's behaviour (built into the .html beside it). */
(function () {
  const T = TwilioEditor;
  // A Sid or a ${ENV_VAR} reference; the runtime reads the variable.
  function sidOrEnv(prefix: string, optional = false) {
    const pattern = T.anyOf([T.sidRule(prefix)], { env: true });
    return function (v: unknown) {
      return (optional && !v) || pattern.test(String(v || '').trim());
    };
  }
  const SENDER = T.anyOf(['(whatsapp:|messenger:)?' + T.rule('e164'), T.rule('alphanumericSender'), T.rule('shortCode'), T.sidRule('MG')], {
    optional: true,
    env: true,
  });
  // Empty (or absent, in flows saved before the field existed) means the default.
  const optionalNumber = function (v: unknown) {
    return v === undefined || v === null || /^\s*(\d+(\.\d+)?)?\s*$/.test(String(v));
  };
  const BASE_URL = T.anyOf([T.rule('baseUrl')], { optional: true, env: true });
  // Twilio's region and edge names become labels of the host name: lower-case letters, digits and -.
  const HOST_LABEL = T.anyOf([T.rule('hostLabel')], { optional: true, env: true });
  // A Redis URL, or a ${ENV_VAR} reference; never one with a password in it (that goes in the credential store).
  const REDIS_URL = /^\s*(rediss?:\/\/[^\s@/]+(\/\d*)?|rediss?:\/\/[^\s:@/]+@[^\s@/]+(\/\d*)?|\$\{\w+\})\s*$/;
  const redisUrl = function (this: EditedNode, v: unknown) {
    const backend = $('#node-config-input-stateBackend').length ? $('#node-config-input-stateBackend').val() : this.stateBackend;
    return backend !== 'redis' || REDIS_URL.test(String(v || ''));
  };

  RED.nodes.registerType('twilio-config', {
    category: 'config',
    paletteLabel: 'Twilio account',
    defaults: {
      name: { value: '' },
      configVersion: { value: TwilioEditor.configVersion('twilio-config') },
      authMode: { value: 'apiKey' },
      region: { value: '', validate: RED.validators.regex(HOST_LABEL) },
      edge: { value: '', validate: RED.validators.regex(HOST_LABEL) },
      defaultFrom: { value: '', validate: RED.validators.regex(SENDER) },
      baseUrl: { value: '', validate: RED.validators.regex(BASE_URL) },
      publicBaseUrl: { value: '', validate: RED.validators.regex(BASE_URL) },
      maxConcurrency: { value: '', validate: optionalNumber },
      ratePerSecond: { value: '', validate: optionalNumber },
      maxRetries: { value: '', validate: optionalNumber },
      stateBackend: { value: 'embedded' },
      redisUrl: { value: '', validate: redisUrl },
    },
    credentials: {
      accountSid: { type: 'text', required: true, validate: sidOrEnv('AC') },
      apiKeySid: {
        type: 'text',
        validate: function (v) {
          return $('#node-config-input-authMode').val() === 'authToken' || this.authMode === 'authToken' || sidOrEnv('SK')(v);
        },
      },
      apiKeySecret: { type: 'password' },
      authToken: { type: 'password' },
      redisPassword: { type: 'password' },
    },
    label: function () {
      return this.name || this._('twilio-config.label.default');
    },
    oneditprepare: function () {
      TwilioEditor.upgrade(this);
      TwilioEditor.tooltips(this);
      const node = this;
      const showMode = function () {
        const apiKey = $('#node-config-input-authMode').val() !== 'authToken';
        $('.twilio-config-apikey').toggle(apiKey);
        $('#twilio-config-token-hint')
          .text(apiKey ? node._('twilio-config.hint.tokenOptional') : '')
          .toggle(apiKey);
      };
      $('#node-config-input-authMode').on('change', showMode);
      showMode();
      // Shared state: this Node-RED's store, or a Redis for several instances (its URL and password).
      if (!node.stateBackend) $('#node-config-input-stateBackend').val('embedded');
      const showState = function () {
        const redis = $('#node-config-input-stateBackend').val() === 'redis';
        $('.twilio-config-redis').toggle(redis);
        $('#twilio-config-state-hint').text(node._(redis ? 'twilio-config.hint.redis' : 'twilio-config.hint.embedded'));
      };
      $('#node-config-input-stateBackend').on('change', showState);
      showState();
      $('#twilio-config-test').on('click', function () {
        const result = $('#twilio-config-test-result').text(node._('twilio-config.test.testing')).css('color', '');
        const value = function (name: string) {
          return $('#node-config-input-' + name).val();
        };
        $.ajax({
          url: 'twilio-config/test',
          type: 'POST',
          contentType: 'application/json',
          data: JSON.stringify({
            id: node.id,
            authMode: value('authMode'),
            region: value('region'),
            edge: value('edge'),
            baseUrl: value('baseUrl'),
            credentials: {
              accountSid: value('accountSid'),
              apiKeySid: value('apiKeySid'),
              apiKeySecret: value('apiKeySecret'),
              authToken: value('authToken'),
            },
          }),
        })
          .done(function (r) {
            if (r.ok) result.text(node._('twilio-config.test.ok', { name: r.friendlyName, status: r.status })).css('color', '#3a873a');
            else result.text(node._('twilio-config.test.failed', { code: r.code, message: r.message })).css('color', '#b94a48');
          })
          .fail(function (x) {
            result.text(node._('twilio-config.test.failed', { code: x.status, message: x.statusText })).css('color', '#b94a48');
          });
      });
    },
  } satisfies NodeDefinition as never);
})();
