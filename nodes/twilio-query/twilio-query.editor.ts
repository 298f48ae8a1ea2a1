import type { NodeDefinition } from '../../editor/twilio-editor';

/** twilio-query: its registration in the editor and its dialog's behaviour (built into the .html beside it). */
(function () {
  // The query action over any catalogue object; what the four resource nodes share is in twilio-editor.js.
  RED.nodes.registerType('twilio-query', {
    category: 'Twilio',
    color: '#F22F46',
    defaults: TwilioEditor.resourceDefaults('query'),
    inputs: 1,
    outputs: 1,
    icon: 'twilio-query.svg',
    paletteLabel: 'twilio query',
    label: TwilioEditor.resourceLabel('query'),
    labelStyle: TwilioEditor.labelStyle,
    onadd: TwilioEditor.useTheOnlyAccount,
    oneditprepare: function () {
      TwilioEditor.prepare(this, 'query');
    },
    oneditsave: function () {
      TwilioEditor.save(this, 'query');
    },
  } satisfies NodeDefinition as never);
})();
