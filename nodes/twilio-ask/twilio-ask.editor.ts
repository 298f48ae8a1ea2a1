import type { EditedNode, NodeDefinition, TypedField } from '../../editor/twilio-editor';

/** twilio-ask: its registration in the editor and its dialog (built into the .html beside it). */
(function () {
  const ALL = ['str', 'msg', 'flow', 'global', 'env', 'jsonata'];
  const FIELDS: Record<string, TypedField> = {
    to: { types: ALL, value: '' },
    from: { types: ALL, value: '' },
    body: { types: ALL, value: 'The garage is open. Reply CLOSE to close it.' },
  };
  interface Answer {
    type: 'words' | 'regex';
    value: string;
    label?: string;
  }
  /** Outputs after the answers: anything else, no reply, not delivered. */
  const FIXED = ['else', 'noReply', 'notDelivered'];
  const answersOf = (node: EditedNode) => (Array.isArray(node.answers) ? (node.answers as Answer[]) : []);
  /** The runtime's own check of a pattern's time (lib/conversation/answers.ts regexHazard, shipped by the build). */
  const hazard = (window as unknown as { TwilioRules: { regexHazard?: (pattern: string) => string | undefined } }).TwilioRules.regexHazard;
  /** What is wrong with a pattern: it does not compile, or it can stall on a reply (as the runtime refuses it). */
  const regexProblem = (value: string): 'compile' | 'slow' | undefined => {
    try {
      new RegExp(value, 'iu');
    } catch {
      return 'compile';
    }
    return hazard?.(value) ? 'slow' : undefined;
  };

  const defaults = TwilioEditor.typedDefaults(FIELDS, {
    name: { value: '' },
    configVersion: { value: TwilioEditor.configVersion('twilio-ask') },
    account: { value: '', type: 'twilio-config', required: true },
    answers: {
      value: [
        { type: 'words', value: 'close, yes, y', label: 'close' },
        { type: 'words', value: 'no, n, leave', label: 'leave it' },
      ],
      validate: function (this: EditedNode, v: unknown) {
        // With no answer every reply would leave by "anything else": say so rather than deploy a question that routes nothing.
        if (!Array.isArray(v) || v.length === 0) return this._('twilio-ask.errors.noAnswers');
        const slow = (v as Answer[]).find((a) => a.type === 'regex' && regexProblem(a.value) === 'slow');
        if (slow) return this._('twilio-ask.errors.slowPattern', { pattern: slow.value });
        return (v as Answer[]).every((a) =>
          a.type === 'regex' ? regexProblem(a.value) === undefined : String(a.value || '').replace(/[\s,]/g, '') !== '',
        );
      },
    },
    timeout: {
      value: 3600,
      validate: function (v) {
        const limit = TwilioEditor.rules.limits.askWaitSeconds;
        return Number(v) >= limit.min && Number(v) <= limit.max;
      },
    },
    mode: { value: 'first' },
    // A reply that matches no answer ends that person's question, as it always did with one recipient.
    anythingElse: { value: 'end' },
    tellOthers: { value: '' },
    cancelTopic: { value: '' },
    stateIn: { value: '' },
    outputs: { value: 5 },
  });
  FIELDS.to.check = new RegExp(
    '^\\s*(whatsapp:)?' + TwilioEditor.rule('phoneAsTyped') + '(\\s*[,;]\\s*(whatsapp:)?' + TwilioEditor.rule('phoneAsTyped') + ')*\\s*$',
  );
  defaults.to.validate = function (this: EditedNode, v: unknown) {
    return (this.toType || 'str') !== 'str' || !v || FIELDS.to.check!.test(String(v));
  };

  RED.nodes.registerType('twilio-ask', {
    category: 'Twilio',
    color: '#F22F46',
    defaults: defaults,
    inputs: 1,
    outputs: 5,
    icon: 'twilio-ask.svg',
    paletteLabel: 'twilio ask',
    label: function () {
      if (this.name) return this.name;
      const to = this.toType === 'str' && this.to ? String(this.to) : '';
      return to ? this._('twilio-ask.label.askTo', { to: to }) : this._('twilio-ask.label.ask');
    },
    labelStyle: function () {
      return this.name ? 'node_label_italic' : '';
    },
    inputLabels: function () {
      return this._('twilio-ask.label.inputLabel');
    },
    outputLabels: function (index) {
      const answers = answersOf(this);
      if (index < answers.length) return this._('twilio-ask.label.answerOutput', { answer: answers[index].label || answers[index].value });
      return this._('twilio-ask.output.' + FIXED[index - answers.length]);
    },
    onadd: TwilioEditor.useTheOnlyAccount,
    oneditprepare: function () {
      const node = this;
      TwilioEditor.upgrade(node);
      TwilioEditor.tooltips(node);
      TwilioEditor.typedInputs(FIELDS);
      const container = $('#node-input-answers-container');
      // Each answer remembers the output it had (`i`), so wires follow it when answers move or go (as the switch node does).
      (container as unknown as { editableList(o: unknown): void }).editableList({
        addItem: function (row: JQuery, _index: number, data: { answer?: Answer; i?: number }) {
          const answer = data.answer || { type: 'words', value: '' };
          const type = $('<select/>', { class: 'twilio-ask-type', style: 'width: 110px; margin-right: 4px' }).appendTo(row);
          ['words', 'regex'].forEach(function (t) {
            $('<option/>')
              .val(t)
              .text(node._('twilio-ask.answerType.' + t))
              .appendTo(type);
          });
          type.val(answer.type);
          $('<input/>', { type: 'text', class: 'twilio-ask-value', style: 'width: calc(60% - 120px); margin-right: 4px' })
            .attr('placeholder', node._('twilio-ask.placeholder.words'))
            .val(answer.value)
            .appendTo(row);
          $('<input/>', { type: 'text', class: 'twilio-ask-label', style: 'width: calc(40% - 20px)' })
            .attr('placeholder', node._('twilio-ask.placeholder.label'))
            .val(answer.label || '')
            .appendTo(row);
        },
        removable: true,
        sortable: true,
        height: 'auto',
      });
      answersOf(node).forEach(function (answer, i) {
        (container as unknown as { editableList(a: string, d: unknown): void }).editableList('addItem', { answer: answer, i: i });
      });
      const toggle = function () {
        $('.twilio-ask-first').toggle($('#node-input-mode').val() === 'first');
      };
      $('#node-input-mode').on('change', toggle);
      toggle();
      TwilioEditor.stateStores(node);
    },
    oneditsave: function () {
      const before = answersOf(this).length;
      const answers: Answer[] = [];
      const map: Record<string, number> = {};
      const items = ($('#node-input-answers-container') as unknown as { editableList(a: string): JQuery }).editableList('items');
      items.each(function (this: HTMLElement, position: number) {
        const row = $(this);
        const data = row.data('data') as { i?: number };
        const value = String(row.find('.twilio-ask-value').val() || '');
        const label = String(row.find('.twilio-ask-label').val() || '').trim();
        answers.push({
          type: row.find('.twilio-ask-type').val() === 'regex' ? 'regex' : 'words',
          value: value,
          ...(label ? { label: label } : {}),
        });
        // A kept answer maps its old output to its new one; a new answer has a key that is no number (the editor adds an output).
        if (data && typeof data.i === 'number') map[String(data.i)] = position;
        else map['new' + position] = position;
      });
      for (let i = 0; i < before; i++) if (!(String(i) in map)) map[String(i)] = -1;
      FIXED.forEach(function (_name, k) {
        map[String(before + k)] = answers.length + k;
      });
      this.answers = answers;
      $('#node-input-outputs').val(JSON.stringify(map));
    },
  } satisfies NodeDefinition as never);
})();
