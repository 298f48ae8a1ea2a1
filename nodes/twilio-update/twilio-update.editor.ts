import type { NodeDefinition } from '../../editor/twilio-editor';

/** twilio-update: its registration in the editor and its dialog's behaviour (built into the .html beside it). */
(function () {
  // The update action over any catalogue object; what the four resource nodes share is in twilio-editor.js.
  RED.nodes.registerType('twilio-update', {
    category: 'Twilio',
    color: '#F22F46',
    defaults: TwilioEditor.resourceDefaults('update'),
    inputs: 1,
    outputs: 1,
    icon: 'twilio-update.svg',
    paletteLabel: 'twilio update',
    label: TwilioEditor.resourceLabel('update'),
    labelStyle: TwilioEditor.labelStyle,
    onadd: TwilioEditor.useTheOnlyAccount,
    oneditprepare: function () {
      TwilioEditor.prepare(this, 'update');
    },
    oneditsave: function () {
      TwilioEditor.save(this, 'update');
    },
  } satisfies NodeDefinition as never);
})();
