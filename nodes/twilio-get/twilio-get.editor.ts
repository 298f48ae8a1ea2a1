import type { NodeDefinition } from '../../editor/twilio-editor';

/** twilio-get: its registration in the editor and its dialog's behaviour (built into the .html beside it). */
(function () {
  // The get action over any catalogue object; what the four resource nodes share is in twilio-editor.js.
  RED.nodes.registerType('twilio-get', {
    category: 'Twilio',
    color: '#F22F46',
    defaults: TwilioEditor.resourceDefaults('get'),
    inputs: 1,
    outputs: 1,
    icon: 'twilio-get.svg',
    paletteLabel: 'twilio get',
    label: TwilioEditor.resourceLabel('get'),
    labelStyle: TwilioEditor.labelStyle,
    onadd: TwilioEditor.useTheOnlyAccount,
    oneditprepare: function () {
      TwilioEditor.prepare(this, 'get');
    },
    oneditsave: function () {
      TwilioEditor.save(this, 'get');
    },
  } satisfies NodeDefinition as never);
})();
