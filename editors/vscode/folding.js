'use strict';
// Folding ranges for .flow text, computed without VS Code so that they can be
// tested with plain Node: every `{...}`, `[...]` and `(...)` that spans lines,
// every multi-line triple-quoted string, every run of two or more comment
// lines, and `# region` / `# endregion` markers.  Brackets inside strings and
// comments do not count.

const OPEN = { '{': '}', '[': ']', '(': ')' };
const CLOSE = new Set(['}', ']', ')']);

/**
 * @param {string} text the whole document
 * @returns {{start: number, end: number, kind?: 'comment' | 'region'}[]}
 *   0-based line ranges; a range whose closing bracket starts its line ends
 *   on the line before, so that `}` (or `} else {`) stays visible.
 */
function foldingRanges(text) {
  const lines = text.split(/\r?\n/);
  const ranges = [];
  const brackets = []; // [char, line]
  const regions = []; // start lines of `# region`
  let commentRun = null; // first line of the current run of comment lines
  let quote = null; // the open string's quote: ", ', """ or '''
  let stringStart = 0;

  const endRun = (line) => {
    if (commentRun !== null && line - 1 > commentRun) {
      ranges.push({ start: commentRun, end: line - 1, kind: 'comment' });
    }
    commentRun = null;
  };

  lines.forEach((lineText, line) => {
    const trimmed = lineText.trim();
    if (quote === null && trimmed.startsWith('#')) {
      if (/^#\s*region\b/.test(trimmed)) {
        endRun(line);
        regions.push(line);
        return;
      }
      if (/^#\s*endregion\b/.test(trimmed)) {
        endRun(line);
        const start = regions.pop();
        if (start !== undefined && line > start) ranges.push({ start, end: line, kind: 'region' });
        return;
      }
      if (commentRun === null) commentRun = line;
      return;
    }
    endRun(line);
    let seenCode = false;
    for (let i = 0; i < lineText.length; i++) {
      const c = lineText[i];
      if (quote !== null) {
        if (c === '\\') {
          i++;
        } else if (lineText.startsWith(quote, i)) {
          i += quote.length - 1;
          if (quote.length === 3 && line > stringStart) {
            ranges.push({ start: stringStart, end: line });
          }
          quote = null;
        }
        continue;
      }
      if (c === '#') break;
      if (c === '"' || c === "'") {
        quote = lineText.startsWith(c.repeat(3), i) ? c.repeat(3) : c;
        stringStart = line;
        i += quote.length - 1;
      } else if (OPEN[c]) {
        brackets.push([c, line]);
      } else if (CLOSE.has(c)) {
        // Unbalanced closers are ignored; a mismatched one closes the
        // innermost bracket of its own kind.
        for (let k = brackets.length - 1; k >= 0; k--) {
          if (OPEN[brackets[k][0]] === c) {
            const [, start] = brackets[k];
            brackets.length = k;
            const end = seenCode ? line : line - 1;
            if (end > start) ranges.push({ start, end });
            break;
          }
        }
      }
      if (!/\s/.test(c)) seenCode = true;
    }
    // A one-line string that is not closed ends with its line.
    if (quote !== null && quote.length === 1) quote = null;
  });
  endRun(lines.length);
  return ranges.sort((a, b) => a.start - b.start || b.end - a.end);
}

module.exports = { foldingRanges };
