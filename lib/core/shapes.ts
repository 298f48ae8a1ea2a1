/** The one check of "a plain JSON object" (not null, not an array) every reader of outside or stored data uses. */
export const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
