/** A step's `arguments` string that cannot be split (an unterminated quote). */
export class ArgumentsError extends Error {
  override readonly name = 'ArgumentsError';
}

/** Characters a backslash outside quotes makes literal: the ones a shell would otherwise treat specially. */
const ESCAPABLE = new Set([...' \t\r\n\'"\\$`;&|<>()*?[]#~{}!']);
/** Inside double quotes a backslash escapes only these (as in a POSIX shell). */
const ESCAPABLE_IN_DOUBLE_QUOTES = new Set([...'"\\$`']);
const WHITESPACE = new Set([...' \t\r\n']);

/**
 * Splits a step's `arguments` (one command-line string) into argv by shell-style quoting, without a
 * shell: nothing is expanded, globbed, piped or redirected, so `;`, `|`, `$HOME` and `*` are plain text.
 *
 * - Whitespace separates arguments; `-c "echo hi"` is two arguments, `-c` and `echo hi`.
 * - `'…'` is taken literally; `"…"` too, except that `\"`, `\\`, `\$` and `` \` `` stand for the character.
 * - `""` and `''` are an empty argument; quotes next to text join it (`--name="a b"` is one argument).
 * - Outside quotes a backslash makes the next character literal when it is whitespace, a quote, a
 *   backslash or a shell metacharacter (`a\ b` is one argument). Before anything else (a letter, a
 *   digit, `.`, `:` …) the backslash is kept, so Windows paths such as `C:\Scripts\tidy.ps1` need no
 *   quoting; a UNC path (`\\server\share`) must be single-quoted.
 *
 * @throws ArgumentsError on an unterminated quote.
 */
export function splitArguments(line: string | null | undefined): string[] {
  if (!line) return [];
  const args: string[] = [];
  let current = '';
  let inWord = false;
  let i = 0;
  while (i < line.length) {
    const ch = line.charAt(i);
    if (WHITESPACE.has(ch)) {
      if (inWord) args.push(current);
      current = '';
      inWord = false;
      i += 1;
      continue;
    }
    inWord = true;
    if (ch === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new ArgumentsError(`unterminated single quote at character ${i + 1}`);
      current += line.slice(i + 1, end);
      i = end + 1;
    } else if (ch === '"') {
      const start = i;
      i += 1;
      for (;;) {
        if (i >= line.length) throw new ArgumentsError(`unterminated double quote at character ${start + 1}`);
        const c = line.charAt(i);
        if (c === '"') {
          i += 1;
          break;
        }
        const next = line.charAt(i + 1);
        if (c === '\\' && ESCAPABLE_IN_DOUBLE_QUOTES.has(next)) {
          current += next;
          i += 2;
        } else {
          current += c;
          i += 1;
        }
      }
    } else if (ch === '\\' && ESCAPABLE.has(line.charAt(i + 1))) {
      current += line.charAt(i + 1);
      i += 2;
    } else {
      current += ch;
      i += 1;
    }
  }
  if (inWord) args.push(current);
  return args;
}
