import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { codeOf } from '../../support/assertions';
import { renderTemplate } from '../../../lib/twilio/templates';

describe('renderTemplate', () => {
  it('renders msg properties and metadata, metadata first', () => {
    const msg = { payload: { temp: 31.5 }, name: 'from msg' };
    assert.equal(renderTemplate('{{name}}: {{payload.temp}} °C', msg, { name: 'Greenhouse' }), 'Greenhouse: 31.5 °C');
    assert.equal(renderTemplate('{{name}}', msg), 'from msg');
  });

  it('does not HTML-escape (an SMS is not HTML)', () => {
    assert.equal(
      renderTemplate('{{payload}}', { payload: `Tom & Jerry <3 "quotes" 'apostrophes'` }),
      `Tom & Jerry <3 "quotes" 'apostrophes'`,
    );
  });

  it('writes objects as JSON, null as empty, numbers and booleans as text', () => {
    assert.equal(renderTemplate('{{a}}|{{b}}|{{c}}|{{d}}', { a: { x: 1 }, b: null, c: 0, d: false }), '{"x":1}||0|false');
  });

  it('treats a missing variable as TEMPLATE_METADATA_ERROR, in every tag form', () => {
    assert.equal(
      codeOf(() => renderTemplate('Hi {{missing}}', { payload: 1 })),
      'TEMPLATE_METADATA_ERROR',
    );
    assert.equal(
      codeOf(() => renderTemplate('Hi {{{missing}}}', {})),
      'TEMPLATE_METADATA_ERROR',
    );
    assert.equal(
      codeOf(() => renderTemplate('Hi {{&payload.nope}}', { payload: {} })),
      'TEMPLATE_METADATA_ERROR',
    );
  });

  it('allows sections over absent data (that is what sections are for) and loops over arrays', () => {
    assert.equal(renderTemplate('A{{#urgent}}!{{/urgent}}', {}), 'A');
    assert.equal(renderTemplate('{{#rooms}}{{name}} {{/rooms}}', { rooms: [{ name: 'hall' }, { name: 'attic' }] }), 'hall attic ');
    assert.equal(
      codeOf(() => renderTemplate('{{#rooms}}{{nope}}{{/rooms}}', { rooms: [{}] })),
      'TEMPLATE_METADATA_ERROR',
    );
  });

  it('reports broken templates as TEMPLATE_SYNTAX_ERROR', () => {
    assert.equal(
      codeOf(() => renderTemplate('Hi {{name', { name: 'x' })),
      'TEMPLATE_SYNTAX_ERROR',
    );
    assert.equal(
      codeOf(() => renderTemplate('{{#a}}no end', { a: true })),
      'TEMPLATE_SYNTAX_ERROR',
    );
  });

  it('reports a template that is not text as TEMPLATE_READ_ERROR, bad metadata as TEMPLATE_METADATA_ERROR', () => {
    assert.equal(
      codeOf(() => renderTemplate({ not: 'text' }, {})),
      'TEMPLATE_READ_ERROR',
    );
    assert.equal(
      codeOf(() => renderTemplate(undefined, {})),
      'TEMPLATE_READ_ERROR',
    );
    assert.equal(
      codeOf(() => renderTemplate('x', {}, 'not an object')),
      'TEMPLATE_METADATA_ERROR',
    );
  });

  it('keeps working after many distinct templates (its parse cache is bounded)', () => {
    for (let i = 0; i < 1000; i++) assert.equal(renderTemplate(`n=${i} {{v}}`, { v: i }), `n=${i} ${i}`);
  });
});
