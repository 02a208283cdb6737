/**
 * The only ways user-derived text (run names, config values, errors, logs, sweep files) enters a
 * report's HTML: as element text or a quoted attribute value through escapeHtml, or as data
 * inside a <script> through scriptJson.
 */

const HTML_ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** `text` safe as element content and inside a single- or double-quoted attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ENTITIES[c]!);
}

/**
 * `value` as JSON that cannot end the <script> element holding it: `<` becomes \u003c (so no
 * `</script>` or `<!--`), and U+2028/U+2029, which older parsers take for line ends, are escaped too.
 */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}
