import type { Defaults, EditedNode, NodeDefinition, TypedField } from '../../editor/twilio-editor';

/** twilio-send: its registration in the editor and its dialog's behaviour (built into the .html beside it). */
(function () {
  const ALL = ['str', 'msg', 'flow', 'global', 'env', 'jsonata'];
  const REF = ['str', 'msg', 'flow', 'global', 'env'];
  // Each field: its typed-input types, its default, and when it shows (message, call, or a call action).
  const FIELDS: Record<string, TypedField & { show?: string | string[] }> = {
    to: { types: ALL, value: '', show: 'all' },
    from: { types: ALL, value: '', show: 'all' },
    body: { types: ALL, value: '{{payload}}', show: 'message' },
    mediaUrl: { types: ALL.concat(['json']), value: '', show: 'message' },
    messagingServiceSid: { types: REF, value: '', show: 'message' },
    contentSid: { types: REF, value: '', show: 'message' },
    contentVariables: { types: ['json', 'str', 'msg', 'flow', 'global', 'env', 'jsonata'], value: '', type: 'str', show: 'message' },
    sendAt: { types: ALL, value: '', show: 'message' },
    validityPeriod: { types: ['num', 'msg', 'flow', 'global', 'env', 'jsonata'], value: '', type: 'num', show: 'message' },
    say: { types: ALL, value: '{{payload}}', show: 'say' },
    sayVoice: { types: REF, value: '', show: 'say' },
    sayLanguage: { types: REF, value: '', show: 'say' },
    twiml: { types: ALL, value: '', show: 'twiml' },
    url: { types: REF, value: '', show: 'url' },
    applicationSid: { types: REF, value: '', show: 'application' },
    record: { types: ['bool', 'msg', 'flow', 'global', 'env'], value: 'false', type: 'bool', show: 'call' },
    timeout: { types: ['num', 'msg', 'flow', 'global', 'env', 'jsonata'], value: '', type: 'num', show: 'call' },
    machineDetection: { types: REF, value: '', show: 'call' },
    statusCallback: { types: REF, value: '', show: 'all' },
    metadata: { types: ['msg', 'json', 'flow', 'global', 'jsonata'], value: 'metadata', type: 'msg', show: 'template' },
  };
  const T = TwilioEditor;
  const SID = function (prefix: string) {
    return T.anyOf([T.sidRule(prefix)]);
  };
  // Literal values are checked in the editor with the runtime's rules; values read at run time are checked by the runtime.
  // E.164 after the punctuation people type; lists of them for To; channel and client/SIP addresses.
  const ADDRESS = '((whatsapp:|messenger:)?' + T.rule('phoneAsTyped') + '|' + T.rule('callEndpoint') + ')';
  const LITERAL_CHECKS = {
    to: new RegExp('^\\s*' + ADDRESS + '(\\s*[,;]\\s*' + ADDRESS + ')*\\s*$'),
    from: new RegExp(
      '^\\s*(' + ADDRESS + '|' + T.rule('alphanumericSender') + '|' + T.rule('shortCode') + '|' + T.sidRule('MG') + ')\\s*$',
    ),
    messagingServiceSid: SID('MG'),
    contentSid: SID('HX'),
    applicationSid: SID('AP'),
    statusCallback: new RegExp(T.rules.patterns.httpUrl),
    url: new RegExp(T.rules.patterns.httpUrl),
  };

  const defaults: Defaults = {
    name: { value: '' },
    configVersion: { value: TwilioEditor.configVersion('twilio-send') },
    account: { value: '', type: 'twilio-config', required: true },
    resource: { value: 'message' },
    callAction: { value: 'say' },
    // For the other creatable objects: the parent Sid (e.g. CF… to add a participant) and the fields.
    sid: { value: '' },
    sidType: { value: 'str' },
    fields: { value: [] },
    payloadFields: { value: true },
    // Delivery receipts to a twilio-in node of this Node-RED (its public URL becomes the StatusCallback).
    statusCallbackNode: { value: '' },
    // Send on when queued, or hold the msg until its outcome (failures by a second output when chosen).
    waitFor: { value: 'queued' },
    outcomeTimeout: {
      value: 900,
      validate: function (this: EditedNode, v: unknown) {
        const limit = TwilioEditor.rules.limits.outcomeWaitSeconds;
        return this.waitFor !== 'outcome' || (Number(v) >= limit.min && Number(v) <= limit.max);
      },
    },
    failureOutput: { value: false },
    stateIn: { value: '' },
    outputs: { value: 1 },
  };
  (Object.keys(LITERAL_CHECKS) as Array<keyof typeof LITERAL_CHECKS>).forEach(function (name) {
    FIELDS[name].check = LITERAL_CHECKS[name];
  });
  TwilioEditor.typedDefaults(FIELDS, defaults);
  // A message or a call needs someone to reach: an empty To typed in the node is flagged here, as the runtime would refuse it.
  const checkTo = defaults.to.validate;
  defaults.to.validate = function (this: EditedNode, v: unknown) {
    const sends = ['message', 'call', 'SMSMessage'].indexOf(String(this.resource || 'message')) >= 0;
    if (sends && (this.toType || 'str') === 'str' && String(v ?? '').trim() === '') return this._('twilio-send.errors.noTo');
    return checkTo ? checkTo.call(this, v) : true;
  };

  RED.nodes.registerType('twilio-send', {
    category: 'Twilio',
    color: '#F22F46',
    defaults: defaults,
    inputs: 1,
    outputs: 1,
    icon: 'twilio-send.svg',
    paletteLabel: 'twilio send',
    label: function () {
      if (this.name) return this.name;
      if (['message', 'call', 'SMSMessage'].indexOf(String(this.resource)) < 0)
        return this._('twilio-send.label.create', { object: this.resource });
      const to = this.toType === 'str' && this.to ? this.to : '';
      if (this.resource === 'call') return to ? this._('twilio-send.label.callTo', { to: to }) : this._('twilio-send.label.call');
      return to ? this._('twilio-send.label.messageTo', { to: to }) : this._('twilio-send.label.message');
    },
    labelStyle: function () {
      return this.name ? 'node_label_italic' : '';
    },
    inputLabels: function () {
      return this._('twilio-send.label.inputLabel');
    },
    outputLabels: function (index) {
      if (this.waitFor !== 'outcome') return this._('twilio-send.label.outputLabel');
      if (!this.failureOutput) return this._('twilio-send.label.outcomeLabel');
      return this._(index === 0 ? 'twilio-send.label.reachedLabel' : 'twilio-send.label.notReachedLabel');
    },
    onadd: TwilioEditor.useTheOnlyAccount,
    oneditprepare: function () {
      TwilioEditor.upgrade(this);
      TwilioEditor.tooltips(this);
      TwilioEditor.typedInputs(FIELDS);

      const update = function () {
        const chosen = String($('#node-input-resource').val());
        const generic = ['message', 'call', 'SMSMessage'].indexOf(chosen) < 0;
        const resource = chosen === 'SMSMessage' ? 'message' : generic ? 'object' : chosen;
        const action = $('#node-input-callAction').val();
        if (!generic) {
          $('#node-input-sid').closest('.form-row').hide();
          $('#twilio-rows-row, #twilio-not-supported').hide();
        }
        Object.keys(FIELDS).forEach(function (name) {
          const show = FIELDS[name].show;
          const visible =
            (show === 'all' && resource !== 'object') ||
            show === resource ||
            (resource === 'call' && show === action) ||
            (show === 'template' && (resource === 'message' || (resource === 'call' && action === 'say')));
          $('#node-input-' + name)
            .closest('.form-row')
            .toggle(visible);
        });
        $('.twilio-send-call-only').toggle(resource === 'call');
        $('.twilio-send-object-only').toggle(resource === 'object');
        $('.twilio-send-receipts').toggle(resource !== 'object');
        $('.twilio-send-waits').toggle(resource !== 'object' && $('#node-input-waitFor').val() === 'outcome');
      };
      TwilioEditor.stateStores(this);
      $('#node-input-waitFor').on('change', update);
      const node = this;
      RED.nodes.eachNode(function (found) {
        const n = found as unknown as { type: string; id: string; name?: string; path?: string };
        if (n.type === 'twilio-in')
          $('<option/>')
            .val(n.id)
            .text(n.name || n.path || n.id)
            .appendTo('#node-input-statusCallbackNode');
        return true;
      });
      $('#node-input-statusCallbackNode').val(String(node.statusCallbackNode || ''));
      update();
      TwilioEditor.prepare(node, 'create', {
        objectField: '#node-input-resource',
        objectProperty: 'resource',
        keepOptions: true,
        exclude: ['Message', 'Call'],
      }).then(function () {
        $('#node-input-resource, #node-input-callAction').on('change', update);
        update();
      });
    },
    oneditsave: function () {
      TwilioEditor.save(this, 'create');
      // A second output for outcomes that did not reach the person, as the core switch node adds its outputs.
      const waiting =
        $('#node-input-waitFor').val() === 'outcome' &&
        ['message', 'call', 'SMSMessage'].indexOf(String($('#node-input-resource').val())) >= 0;
      this.outputs = waiting && $('#node-input-failureOutput').prop('checked') ? 2 : 1;
    },
  } satisfies NodeDefinition as never);
})();
