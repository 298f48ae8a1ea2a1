import type { NodeDefinition, TypedField } from '../../editor/twilio-editor';

/** twilio-reply: its registration in the editor and its dialog's behaviour (built into the .html beside it). */
(function () {
  const ALL = ['str', 'msg', 'flow', 'global', 'env', 'jsonata'];
  // Each field, and the replies that use it.
  const FIELDS: Record<string, TypedField & { show?: string | string[] }> = {
    text: { types: ALL, value: '{{payload.Body}}', show: ['message', 'say', 'gather'] },
    mediaUrl: { types: ALL.concat(['json']), value: '', show: ['message'] },
    voice: { types: ALL, value: '', show: ['say', 'gather'] },
    language: { types: ALL, value: '', show: ['say', 'gather'] },
    url: { types: ALL, value: '', show: ['play', 'gather', 'redirect'] },
    loop: { types: ['num', 'msg', 'flow', 'global', 'env'], value: '', type: 'num', show: ['say', 'play'] },
    input: { types: ALL, value: 'dtmf', show: ['gather'] },
    numDigits: { types: ['num', 'msg', 'flow', 'global', 'env'], value: '', type: 'num', show: ['gather'] },
    timeout: { types: ['num', 'msg', 'flow', 'global', 'env'], value: '', type: 'num', show: ['gather', 'dial'] },
    number: { types: ALL, value: '', show: ['dial'] },
    callerId: { types: ALL, value: '', show: ['dial'] },
    reason: { types: ALL, value: 'rejected', show: ['reject'] },
    metadata: { types: ['msg', 'json', 'flow', 'global', 'jsonata'], value: 'metadata', type: 'msg', show: ['message', 'say', 'gather'] },
  };
  const defaults = TwilioEditor.typedDefaults(FIELDS, {
    name: { value: '' },
    configVersion: { value: TwilioEditor.configVersion('twilio-reply') },
    action: { value: 'message' },
  });

  RED.nodes.registerType('twilio-reply', {
    category: 'Twilio',
    color: '#F22F46',
    defaults: defaults,
    inputs: 1,
    outputs: 0,
    icon: 'twilio-reply.svg',
    align: 'right',
    paletteLabel: 'twilio reply',
    label: function () {
      return this.name || this._('twilio-reply.label.node', { action: this.action });
    },
    labelStyle: function () {
      return this.name ? 'node_label_italic' : '';
    },
    oneditprepare: function () {
      TwilioEditor.upgrade(this);
      TwilioEditor.tooltips(this);
      TwilioEditor.typedInputs(FIELDS);
      const update = function () {
        const action = String($('#node-input-action').val());
        Object.keys(FIELDS).forEach(function (name) {
          $('#node-input-' + name)
            .closest('.form-row')
            .toggle((FIELDS[name].show ?? []).indexOf(action) >= 0);
        });
        $('#twilio-reply-raw').toggle(action === 'raw');
      };
      $('#node-input-action').on('change', update);
      update();
    },
  } satisfies NodeDefinition as never);
})();
