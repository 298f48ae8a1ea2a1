import type { NodeDefinition } from '../../editor/twilio-editor';

/** twilio-delete: its registration in the editor and its dialog's behaviour (built into the .html beside it). */
(function () {
  // The delete action over any catalogue object; what the four resource nodes share is in twilio-editor.js.
  RED.nodes.registerType('twilio-delete', {
    category: 'Twilio',
    color: '#F22F46',
    defaults: TwilioEditor.resourceDefaults('delete'),
    inputs: 1,
    outputs: 1,
    icon: 'twilio-delete.svg',
    paletteLabel: 'twilio delete',
    label: TwilioEditor.resourceLabel('delete'),
    labelStyle: TwilioEditor.labelStyle,
    onadd: TwilioEditor.useTheOnlyAccount,
    oneditprepare: function () {
      TwilioEditor.prepare(this, 'delete');
    },
    oneditsave: function () {
      TwilioEditor.save(this, 'delete');
    },
  } satisfies NodeDefinition as never);
})();
