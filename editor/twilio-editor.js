/* Editor helpers shared by the Twilio nodes: the resource catalogue (served by the runtime at
 * twilio-catalogue, the same table the runtime executes) and the object, Sid, filter and field
 * inputs built from it. Loaded by each node's .html from resources/@nr-twilio/node-red-twilio/. */
(function () {
  'use strict';
  if (window.TwilioEditor) return;

  // The runtime's value rules and config versions, put in front of this script by the build.
  var RULES = window.TwilioRules;
  /** A rule's pattern without its anchors, to combine with others. */
  function rule(name) {
    return RULES.patterns[name].replace(/^\^/, '').replace(/\$$/, '');
  }
  function sidRule(prefix) {
    return prefix + RULES.patterns.sidHex;
  }
  /** A whole value that is one of `rules` (or empty, or a ${NAME} reference, when asked). */
  function anyOf(rules, options) {
    options = options || {};
    var all = rules.slice();
    if (options.env) all.push(rule('envReference'));
    if (options.optional) all.unshift('\\s*');
    return new RegExp('^(' + all.join('|') + ')$');
  }

  /**
   * A node's config brought to its type's current version in the editor too, by the same steps as
   * lib/node-red/config-version.ts (none yet: version 1 is the first that carries the field).
   */
  var EDITOR_MIGRATIONS = {};
  function configVersion(type) {
    return RULES.configVersions[type] || 0;
  }
  function upgrade(node) {
    var steps = EDITOR_MIGRATIONS[node.type] || [];
    var from = typeof node.configVersion === 'number' ? node.configVersion : 0;
    for (var v = from; v < steps.length; v++) if (steps[v]) steps[v](node);
    node.configVersion = Math.max(from, configVersion(node.type));
  }

  var catalogue = null;
  var loading = null;
  var ALL = ['str', 'msg', 'flow', 'global', 'env', 'jsonata'];
  var TYPES_BY_VALUE = {
    boolean: ['bool', 'msg', 'flow', 'global', 'env', 'jsonata'],
    integer: ['num', 'msg', 'flow', 'global', 'env', 'jsonata'],
    list: ['str', 'json', 'msg', 'flow', 'global', 'env', 'jsonata'],
  };

  function load() {
    if (!loading) {
      loading = $.getJSON('twilio-catalogue').then(function (data) {
        catalogue = data;
        return data;
      });
    }
    return loading;
  }

  function find(name) {
    return (catalogue || []).filter(function (o) {
      return o.name === name;
    })[0];
  }

  // The Sid parts and fields of an object's action, as the runtime works them out (lib/catalogue).
  function partsFor(object, action) {
    return (object && object.editor && object.editor[action] && object.editor[action].parts) || [];
  }

  function fieldsFor(object, action) {
    return (object && object.editor && object.editor[action] && object.editor[action].fields) || [];
  }

  /** Why Twilio's API lacks this action, in the editor's language (the catalogue's English otherwise). */
  function notSupportedReason(node, object, action) {
    var reason = object.actions[action] && object.actions[action].notSupported;
    if (!reason) return '';
    var key = 'twilio.notSupported.' + object.name + '.' + action;
    var translated = node._(key);
    return translated && translated !== key ? translated : reason;
  }

  function sidPlaceholder(node, object, action) {
    var parts = partsFor(object, action)
      .map(function (p) {
        return p.example;
      })
      .join(':');
    var accountScoped = object && object.actions[action] && /^account\./.test(object.actions[action].call);
    if (!parts) return accountScoped ? node._('twilio.editor.subaccountHint') : '';
    return accountScoped ? node._('twilio.editor.sidHint', { sid: parts }) : parts;
  }

  /**
   * What the Sid row holds: a record's Sid for get, update and delete; for a query, the record a
   * list belongs to (a call's recordings), or with no such parent only a subaccount to list from.
   */
  function sidLabel(node, object, action) {
    if (action !== 'query') return node._('twilio.editor.sid');
    return node._(partsFor(object, action).length > 0 ? 'twilio.editor.parentSid' : 'twilio.editor.subaccount');
  }

  /** "Message" → "Messages", for labels, before and after the catalogue has loaded. */
  function plural(name) {
    var o = find(name);
    return o ? o.plural : name + 's';
  }

  /** A list of rows: a name chosen from `choices`, an operator for dates, a typed value. */
  function rowsEditor(container, choices, rows, withOperator, t) {
    container.css({ 'min-height': '120px', 'min-width': '450px' }).editableList({
      addItem: function (row, index, data) {
        var name = $('<select/>', { style: 'width: 30%' }).appendTo(row);
        choices.forEach(function (c) {
          $('<option/>').val(c.name).text(c.name).appendTo(name);
        });
        var op = $('<select/>', { style: 'width: 16%; margin-left: 4px' }).appendTo(row);
        ['on', 'before', 'after'].forEach(function (o) {
          $('<option/>')
            .val(o)
            .text(t('twilio.editor.op.' + o))
            .appendTo(op);
        });
        var value = $('<input type="text"/>', { style: 'width: 40%; margin-left: 4px' }).appendTo(row);
        var typed = false;
        var update = function () {
          var spec = choices.filter(function (c) {
            return c.name === name.val();
          })[0] || { type: 'string' };
          op.toggle(withOperator && spec.type === 'date');
          var types = TYPES_BY_VALUE[spec.type] || ALL;
          if (typed) value.typedInput('types', types);
          else value.typedInput({ types: types });
          value.typedInput('width', withOperator && spec.type === 'date' ? '48%' : '64%');
          typed = true;
          var placeholder =
            spec.type === 'enum' || spec.options
              ? (spec.options || []).join(' | ')
              : spec.type === 'date'
                ? 'YYYY-MM-DD HH:MM:SS'
                : spec.prefix
                  ? spec.prefix + '…'
                  : '';
          value.attr('placeholder', placeholder);
        };
        name.val(data.name || (choices[0] && choices[0].name));
        op.val(data.op || 'on');
        update();
        value.typedInput(
          'type',
          data.valueType ||
            (TYPES_BY_VALUE[
              (
                choices.filter(function (c) {
                  return c.name === name.val();
                })[0] || {}
              ).type
            ] || ALL)[0],
        );
        value.typedInput('value', data.value === undefined ? '' : data.value);
        name.on('change', update);
        row.data('read', function () {
          return {
            name: name.val(),
            op: op.is(':visible') ? op.val() : undefined,
            value: value.typedInput('value'),
            valueType: value.typedInput('type'),
          };
        });
      },
      removable: true,
      sortable: true,
    });
    (rows || []).forEach(function (r) {
      container.editableList('addItem', r);
    });
  }

  function readRows(container) {
    var out = [];
    container.editableList('items').each(function () {
      out.push($(this).data('read')());
    });
    return out;
  }

  /**
   * Builds a resource node's dialog: the object list for `action`, the Sid hint, and the filter or
   * field rows. `options.objectField` names the select holding the object (twilio-send: resource).
   */
  function prepare(node, action, options) {
    options = options || {};
    upgrade(node);
    var objectSelect = $(options.objectField || '#node-input-object');
    var sid = $('#node-input-sid');
    if (sid.length) sid.typedInput({ types: ALL, typeField: '#node-input-sidType' });
    return load().then(function () {
      tooltips(node);
      var current = node[options.objectProperty || 'object'];
      // twilio-send keeps its own Message and Call entries and appends the other creatable objects.
      if (!options.keepOptions) objectSelect.empty();
      catalogue
        .filter(function (o) {
          return o.actions[action] && (options.exclude || []).indexOf(o.name) < 0;
        })
        .forEach(function (o) {
          var spec = o.actions[action];
          $('<option/>')
            .val(o.name)
            .text(o.label + (spec.notSupported ? ' — ' + node._('twilio.editor.notSupported') : ''))
            .appendTo(objectSelect);
        });
      if (current) objectSelect.val(current);
      var rowsContainer = $('#twilio-rows');
      var rowsObject = null;
      var refresh = function () {
        var object = find(objectSelect.val());
        if (!object) return;
        var spec = object.actions[action] || {};
        $('#twilio-not-supported')
          .text(notSupportedReason(node, object, action))
          .toggle(!!spec.notSupported);
        if (sid.length) {
          sid.typedInput('width', '70%');
          $('#twilio-sid-hint').text(sidPlaceholder(node, object, action));
          $('label[for="node-input-sid"] span').text(sidLabel(node, object, action));
          sid.closest('.form-row').toggle(partsFor(object, action).length > 0 || /^account\./.test(spec.call || ''));
        }
        if (rowsContainer.length) {
          var choices = action === 'query' ? object.filters || [] : fieldsFor(object, action);
          // The saved rows belong to the saved object; another object starts with none.
          var keep = rowsObject === null && object.name === current ? node[action === 'query' ? 'filters' : 'fields'] || [] : [];
          var fresh = $('<ol id="twilio-rows"/>');
          rowsContainer.closest('.form-row').find('.red-ui-editableList, #twilio-rows').remove();
          $('#twilio-rows-row').append(fresh);
          rowsContainer = fresh;
          rowsEditor(
            rowsContainer,
            choices,
            keep.filter(function (r) {
              return choices.some(function (c) {
                return c.name === r.name;
              });
            }),
            action === 'query',
            function (k) {
              return node._(k);
            },
          );
          rowsObject = object.name;
          $('#twilio-rows-row').toggle(choices.length > 0);
        }
      };
      objectSelect.on('change', refresh);
      refresh();
    });
  }

  function save(node, action) {
    var rowsContainer = $('#twilio-rows');
    if (rowsContainer.length && $('#twilio-rows-row').is(':visible')) {
      node[action === 'query' ? 'filters' : 'fields'] = readRows(rowsContainer);
    } else if (rowsContainer.length) {
      node[action === 'query' ? 'filters' : 'fields'] = [];
    }
  }

  // --- what twilio-get, -query, -update and -delete share ---------------------------------------

  /** Their defaults: the account, the object and its Sid, plus what the action adds. */
  function resourceDefaults(action) {
    var defaults = {
      name: { value: '' },
      configVersion: { value: configVersion('twilio-' + action) },
      account: { value: '', type: 'twilio-config', required: true },
      object: { value: 'Message', required: true },
      sid: { value: action === 'query' ? '' : action === 'update' ? 'sid' : 'payload' },
      sidType: { value: action === 'query' ? 'str' : 'msg' },
    };
    if (action === 'query') {
      defaults.filters = { value: [] };
      defaults.limit = { value: 50, validate: RED.validators.number() };
      defaults.pageSize = { value: 50, validate: RED.validators.number() };
      defaults.output = { value: 'array' };
    }
    if (action === 'update') {
      defaults.fields = { value: [] };
      defaults.payloadFields = { value: true };
    }
    return defaults;
  }

  /** "get Message", "query Messages": a node's label says what it does. */
  function resourceLabel(action) {
    return function () {
      return this.name || this._('twilio-' + action + '.label.node', { object: action === 'query' ? plural(this.object) : this.object });
    };
  }

  function labelStyle() {
    return this.name ? 'node_label_italic' : '';
  }

  // --- nodes whose fields are typed inputs (send, reply, request) ------------------------------

  /**
   * Adds `<field>` and `<field>Type` defaults for each field: { value, type, types, check? }. A check
   * (a RegExp) applies to literal (str) values only; values read at run time are checked then.
   */
  function typedDefaults(fields, defaults) {
    Object.keys(fields).forEach(function (name) {
      var field = fields[name];
      defaults[name] = { value: field.value };
      if (field.check) {
        defaults[name].validate = function (v) {
          var t = this[name + 'Type'] || 'str';
          return t !== 'str' || !v || field.check.test(v);
        };
      }
      defaults[name + 'Type'] = { value: field.type || 'str' };
    });
    return defaults;
  }

  /** Turns each field's input into a typed input in the open dialog. */
  function typedInputs(fields) {
    Object.keys(fields).forEach(function (name) {
      var input = $('#node-input-' + name);
      var typeField = $('#node-input-' + name + 'Type');
      // Flows written by hand may lack a field: give it its default type, and keep an unset bool
      // off (an empty bool input would show, and save, "true").
      if (!typeField.val()) typeField.val(fields[name].type || 'str');
      if (typeField.val() === 'bool' && !input.val()) input.val('false');
      input.typedInput({ types: fields[name].types, typeField: '#node-input-' + name + 'Type' });
    });
  }

  /**
   * Hover help on each field's label, from the node's catalogue: `<type>.tip.<field>`, else the
   * shared `twilio.tip.<field>`. Fields without a tip keep their label alone.
   */
  function tooltips(node) {
    $('.red-ui-editor label[for^="node-input-"], .red-ui-editor label[for^="node-config-input-"]').each(function () {
      var label = $(this);
      if (label.data('twilio-tip')) return;
      var field = label.attr('for').replace(/^node-(config-)?input-/, '');
      var tip = [node.type + '.tip.' + field, 'twilio.tip.' + field]
        .map(function (key) {
          var text = node._(key);
          return text !== key ? text : null;
        })
        .filter(Boolean)[0];
      if (!tip) return;
      label.data('twilio-tip', true).addClass('twilio-has-tip');
      RED.popover.tooltip(label, tip);
    });
  }

  window.TwilioEditor = {
    rules: RULES,
    rule: rule,
    sidRule: sidRule,
    anyOf: anyOf,
    configVersion: configVersion,
    upgrade: upgrade,
    tooltips: tooltips,
    typedDefaults: typedDefaults,
    typedInputs: typedInputs,
    load: load,
    find: find,
    plural: plural,
    prepare: prepare,
    save: save,
    partsFor: partsFor,
    fieldsFor: fieldsFor,
    resourceDefaults: resourceDefaults,
    resourceLabel: resourceLabel,
    labelStyle: labelStyle,
  };
  load();
})();
