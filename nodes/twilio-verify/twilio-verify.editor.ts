import type { EditedNode, NodeDefinition, TypedField } from '../../editor/twilio-editor';

/** twilio-verify: its registration in the editor and its dialog's behaviour (built into the .html beside it). */
(function () {
  // Each action's outputs, as the runtime sends them (lib/outbound/verify.ts VERIFY_OUTPUTS).
  const OUTPUTS: Record<string, string[]> = { start: ['sent', 'notDelivered'], check: ['approved', 'wrongCode', 'expired'] };
  const NONE = { value: 'none', label: 'none', hasValue: false };
  const CHANNELS = {
    value: 'channel',
    label: 'channel',
    options: ['sms', 'whatsapp', 'call', 'email'],
  };
  const FIELDS: Record<string, TypedField> = {
    serviceSid: {
      types: ['str', 'msg', 'flow', 'global', 'env'],
      value: '',
      type: 'str',
      check: new RegExp('^(VA' + TwilioEditor.rules.patterns.sidHex + '|' + TwilioEditor.rule('envReference') + ')$'),
    },
    // Never a template: an address is taken as it is, and checked at run time (E.164 or an email address).
    to: { types: ['msg', 'flow', 'global', 'str', 'env'], value: 'to', type: 'msg' },
    channel: { types: [CHANNELS, 'msg', 'flow', 'global', 'env'], value: 'sms', type: 'channel' },
    // The code only ever comes from the msg or context: never typed into a flow.
    code: { types: ['msg', 'flow', 'global'], value: 'code', type: 'msg' },
    verificationSid: { types: [NONE, 'msg', 'flow', 'global'], value: '', type: 'none' },
  };
  const defaults = TwilioEditor.typedDefaults(FIELDS, {
    name: { value: '' },
    configVersion: { value: TwilioEditor.configVersion('twilio-verify') },
    account: { value: '', type: 'twilio-config', required: true },
    action: { value: 'start' },
    outputs: { value: 2 },
  });
  const actionOf = (node: EditedNode) => (node.action === 'check' ? 'check' : 'start');

  RED.nodes.registerType('twilio-verify', {
    category: 'Twilio',
    color: '#F22F46',
    defaults: defaults,
    inputs: 1,
    outputs: 2,
    icon: 'twilio-verify.svg',
    paletteLabel: 'twilio verify',
    label: function () {
      return this.name || this._('twilio-verify.label.' + actionOf(this) + 'Label');
    },
    labelStyle: function () {
      return this.name ? 'node_label_italic' : '';
    },
    outputLabels: function (index) {
      const name = OUTPUTS[actionOf(this)][index];
      return name ? this._('twilio-verify.output.' + name) : '';
    },
    onadd: TwilioEditor.useTheOnlyAccount,
    oneditprepare: function () {
      TwilioEditor.upgrade(this);
      TwilioEditor.tooltips(this);
      TwilioEditor.typedInputs(FIELDS);
      const toggle = function () {
        const check = $('#node-input-action').val() === 'check';
        $('.twilio-verify-check').toggle(check);
        $('.twilio-verify-start').toggle(!check);
      };
      $('#node-input-action').on('change', toggle);
      toggle();
    },
    oneditsave: function () {
      // The ports follow the action, as the switch node's follow its rules: outputs kept where both have them.
      const before = OUTPUTS[actionOf(this)].length;
      const after = OUTPUTS[$('#node-input-action').val() === 'check' ? 'check' : 'start'].length;
      const map: Record<string, number> = {};
      for (let i = 0; i < Math.max(before, after); i++) {
        if (i < before) map[String(i)] = i < after ? i : -1;
        else map['new' + i] = i;
      }
      $('#node-input-outputs').val(JSON.stringify(map));
    },
  } satisfies NodeDefinition as never);
})();
