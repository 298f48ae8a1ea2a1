import type { EditedNode, NodeDefinition } from '../../editor/twilio-editor';

/** twilio-in: its registration in the editor and its dialog's behaviour (built into the .html beside it). */
(function () {
  /** Whether the node polls: the dialog's choice while it is open, else the saved one. */
  const polls = function (node: EditedNode) {
    const open = $('#node-input-receive');
    return (open.length ? open.val() : node.receive) === 'poll';
  };
  RED.nodes.registerType('twilio-in', {
    category: 'Twilio',
    color: '#F22F46',
    defaults: {
      name: { value: '' },
      configVersion: { value: TwilioEditor.configVersion('twilio-in') },
      account: { value: '', type: 'twilio-config', required: true },
      path: { value: '/twilio/sms', required: true, validate: RED.validators.regex(/^\/?[\w\-./:]+$/) },
      publicBaseUrl: {
        value: '',
        validate: RED.validators.regex(TwilioEditor.anyOf([TwilioEditor.rule('baseUrl')], { optional: true, env: true })),
      },
      trustProxy: { value: false },
      // Without a public URL: hosts a request may name besides this machine's own, "name" or "name:port", or ${ENV}.
      hosts: {
        value: '',
        validate: function (v) {
          const host = /^(?:[A-Za-z0-9_.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$|^\$\{\w+\}$/;
          return String(v ?? '')
            .split(/[\s,]+/)
            .every(function (entry) {
              return entry === '' || host.test(entry);
            });
        },
      },
      validate: { value: true },
      reply: { value: 'auto' },
      replyTimeout: {
        value: 10,
        validate: function (v) {
          const n = Number(v),
            limit = TwilioEditor.rules.limits.replyWaitSeconds;
          return n >= limit.min && n <= limit.max;
        },
      },
      fallback: { value: 'empty' },
      fallbackText: {
        value: '',
        // Raw TwiML must be a <Response> document, as the runtime sends it; the dialog's choice while it is open.
        validate: function (v) {
          const open = $('#node-input-fallback');
          const fallback = open.length ? open.val() : this.fallback;
          return fallback !== 'twiml' || new RegExp(TwilioEditor.rules.patterns.twimlDocument).test(String(v));
        },
      },
      dedupe: { value: true },
      dedupeWindow: { value: 600, validate: RED.validators.number() },
      stateIn: { value: '' },
      receive: { value: 'webhook' },
      // Checked only when the node polls: flows from before polling have neither.
      pollNumber: {
        value: '',
        validate: function (v) {
          const number = new RegExp(TwilioEditor.anyOf([TwilioEditor.rule('e164')], { optional: true, env: true }));
          return !polls(this) || number.test(String(v ?? ''));
        },
      },
      pollInterval: {
        value: 10,
        validate: function (v) {
          const n = Number(v),
            limit = TwilioEditor.rules.limits.pollSeconds;
          return !polls(this) || (n >= limit.min && n <= limit.max);
        },
      },
      pollCalls: { value: false },
    },
    inputs: 0,
    outputs: 1,
    icon: 'twilio-in.svg',
    paletteLabel: 'twilio in',
    label: function () {
      if (this.name) return this.name;
      return this.receive === 'poll'
        ? this._('twilio-in.label.nodePoll', { number: this.pollNumber || this._('twilio-in.label.everyNumber') })
        : this._('twilio-in.label.node', { path: this.path });
    },
    labelStyle: function () {
      return this.name ? 'node_label_italic' : '';
    },
    outputLabels: function () {
      return this._('twilio-in.label.output');
    },
    onadd: TwilioEditor.useTheOnlyAccount,
    oneditprepare: function () {
      TwilioEditor.upgrade(this);
      TwilioEditor.tooltips(this);
      const node = this;
      // Webhook or polling: each shows its own rows; the context store serves both (duplicates, or the cursor).
      const toggle = function () {
        const polling = $('#node-input-receive').val() === 'poll';
        $('.twilio-in-poll').toggle(polling);
        $('.twilio-in-webhook').toggle(!polling);
        if (polling) return void $('#twilio-in-unchecked').hide();
        $('#twilio-in-unchecked').toggle(!$('#node-input-validate').prop('checked'));
        const fromFlow = $('#node-input-reply').val() === 'flow';
        $('#node-input-replyTimeout, #node-input-fallback').closest('.form-row').toggle(fromFlow);
        $('#node-input-fallbackText')
          .closest('.form-row')
          .toggle(fromFlow && $('#node-input-fallback').val() !== 'empty');
        $('#node-input-dedupeWindow').closest('.form-row').toggle($('#node-input-dedupe').prop('checked'));
        // Without a public URL the signed URL is taken from each request: say so, and which hosts it accepts.
        const fromRequest = String($('#node-input-publicBaseUrl').val() ?? '').trim() === '';
        $('#twilio-in-from-request').toggle(fromRequest);
        $('#node-input-hosts').closest('.form-row').toggle(fromRequest);
      };
      $('#node-input-receive, #node-input-validate, #node-input-reply, #node-input-dedupe, #node-input-fallback').on('change', toggle);
      $('#node-input-publicBaseUrl').on('input change', toggle);
      toggle();
      TwilioEditor.stateStores(node);
      // Point one of the account's numbers at this node (the deployed account and public URL are used).
      $('#twilio-in-connect').on('click', function () {
        const account = $('#node-input-account').val();
        const base = $('#node-input-publicBaseUrl').val();
        const path = $('#node-input-path').val();
        const which = $('#twilio-in-connect-which').val();
        const number = $('#twilio-in-connect-number').val();
        $.ajax({
          url: 'twilio-in/connect',
          type: 'POST',
          contentType: 'application/json',
          data: JSON.stringify({ account: account, node: node.id, publicBaseUrl: base, path: path, which: which, number: number }),
        })
          .done(function (r) {
            RED.notify(node._('twilio-in.connect.done', { number: r.phoneNumber, url: r.url }), 'success');
          })
          .fail(function (x) {
            RED.notify(node._('twilio-in.connect.failed', { error: (x.responseJSON && x.responseJSON.error) || x.statusText }), 'error');
          });
      });
      $('#twilio-in-load-numbers').on('click', function () {
        $.getJSON('twilio-in/numbers', { account: $('#node-input-account').val() })
          .done(function (numbers: Array<{ sid: string; phoneNumber: string; friendlyName?: string }>) {
            const select = $('#twilio-in-connect-number').empty();
            numbers.forEach(function (n) {
              $('<option/>')
                .val(n.sid)
                .text(n.phoneNumber + (n.friendlyName && n.friendlyName !== n.phoneNumber ? ' — ' + n.friendlyName : ''))
                .appendTo(select);
            });
          })
          .fail(function (x) {
            RED.notify(node._('twilio-in.connect.failed', { error: (x.responseJSON && x.responseJSON.error) || x.statusText }), 'error');
          });
      });
    },
  } satisfies NodeDefinition as never);
})();
