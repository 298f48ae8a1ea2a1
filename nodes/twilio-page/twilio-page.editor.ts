import type { NodeDefinition, TypedField } from '../../editor/twilio-editor';

/** twilio-page: its registration in the editor and its dialog (built into the .html beside it). */
(function () {
  const FIELDS: Record<string, TypedField> = {
    contacts: { types: ['str', 'msg', 'flow', 'global', 'json', 'env'], value: '' },
    from: { types: ['str', 'msg', 'flow', 'global', 'env'], value: '' },
    alarmId: { types: ['msg', 'str', 'flow', 'global'], value: 'topic', type: 'msg' },
  };
  interface Step {
    action: 'text' | 'call';
    wait: number;
  }
  const defaults = TwilioEditor.typedDefaults(FIELDS, {
    name: { value: '' },
    configVersion: { value: TwilioEditor.configVersion('twilio-page') },
    account: { value: '', type: 'twilio-config', required: true },
    alert: { value: 'Smoke detected at home.', required: true },
    steps: {
      value: [
        { action: 'text', wait: 60 },
        { action: 'call', wait: 90 },
      ],
      validate: function (v) {
        return Array.isArray(v) && v.length > 0 && (v as Step[]).every((s) => Number(s.wait) >= 5 && Number(s.wait) <= 3600);
      },
    },
    rounds: {
      value: 2,
      validate: function (v) {
        return Number.isInteger(Number(v)) && Number(v) >= 1 && Number(v) <= 10;
      },
    },
    ackKey: { value: '1', validate: RED.validators.regex(/^[0-9*#]{1,4}$/) },
    ackWords: { value: 'ack, ok, yes' },
    skipVoicemail: { value: true },
    keysNode: { value: '' },
    voice: { value: '' },
    language: { value: '' },
    allClear: { value: '' },
    cancelTopic: { value: '' },
    stateIn: { value: '' },
  });

  RED.nodes.registerType('twilio-page', {
    category: 'Twilio',
    color: '#F22F46',
    defaults: defaults,
    inputs: 1,
    outputs: 3,
    icon: 'twilio-page.svg',
    paletteLabel: 'twilio page',
    label: function () {
      return this.name || this._('twilio-page.label.page');
    },
    labelStyle: function () {
      return this.name ? 'node_label_italic' : '';
    },
    inputLabels: function () {
      return this._('twilio-page.label.inputLabel');
    },
    outputLabels: function (index) {
      return this._('twilio-page.output.' + ['acknowledged', 'exhausted', 'cancelled'][index]);
    },
    onadd: TwilioEditor.useTheOnlyAccount,
    oneditprepare: function () {
      const node = this;
      TwilioEditor.upgrade(node);
      TwilioEditor.tooltips(node);
      TwilioEditor.typedInputs(FIELDS);
      const container = $('#node-input-steps-container') as unknown as { editableList(o: unknown, d?: unknown): JQuery };
      container.editableList({
        addItem: function (row: JQuery, _index: number, step: Step) {
          const action = $('<select/>', { class: 'twilio-page-action', style: 'width: 120px; margin-right: 6px' }).appendTo(row);
          ['text', 'call'].forEach(function (a) {
            $('<option/>')
              .val(a)
              .text(node._('twilio-page.action.' + a))
              .appendTo(action);
          });
          action.val(step.action || 'text');
          $('<span/>')
            .text(node._('twilio-page.label.thenWait') + ' ')
            .appendTo(row);
          $('<input/>', { type: 'text', class: 'twilio-page-wait', style: 'width: 70px' })
            .val(String(step.wait || 60))
            .appendTo(row);
          $('<span/>').text(' s').appendTo(row);
        },
        removable: true,
        sortable: true,
        height: 'auto',
      });
      ((Array.isArray(node.steps) ? node.steps : []) as Step[]).forEach(function (step) {
        container.editableList('addItem', step);
      });
      RED.nodes.eachNode(function (found) {
        const n = found as unknown as { type: string; id: string; name?: string; path?: string; receive?: string; validate?: boolean };
        // Only a webhook twilio-in that checks signatures passes key presses on.
        if (n.type === 'twilio-in' && n.receive !== 'poll' && n.validate !== false)
          $('<option/>')
            .val(n.id)
            .text(n.name || n.path || n.id)
            .appendTo('#node-input-keysNode');
        return true;
      });
      $('#node-input-keysNode').val(String(node.keysNode || ''));
      const toggle = function () {
        $('#twilio-page-no-keys').toggle(!$('#node-input-keysNode').val());
      };
      $('#node-input-keysNode').on('change', toggle);
      toggle();
      TwilioEditor.stateStores(node);
    },
    oneditsave: function () {
      const steps: Step[] = [];
      ($('#node-input-steps-container') as unknown as { editableList(a: string): JQuery }).editableList('items').each(function (
        this: HTMLElement,
      ) {
        const row = $(this);
        steps.push({
          action: row.find('.twilio-page-action').val() === 'call' ? 'call' : 'text',
          wait: Number(row.find('.twilio-page-wait').val()) || 60,
        });
      });
      this.steps = steps;
    },
  } satisfies NodeDefinition as never);
})();
