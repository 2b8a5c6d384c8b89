import { describe, expect, it } from 'vitest';
import { ArgumentsError, splitArguments } from '../../../worker/arguments.js';

describe('splitArguments', () => {
  it.each([
    { line: undefined, argv: [] },
    { line: null, argv: [] },
    { line: '', argv: [] },
    { line: '   \t ', argv: [] },
    { line: '-Days 7', argv: ['-Days', '7'] },
    { line: '  a   b\tc\nd  ', argv: ['a', 'b', 'c', 'd'] },
    { line: '-c "echo hi"', argv: ['-c', 'echo hi'] },
    { line: "-c 'echo hi; exit 0'", argv: ['-c', 'echo hi; exit 0'] },
    { line: '""', argv: [''] },
    { line: "a '' b", argv: ['a', '', 'b'] },
    { line: '--name="a b"', argv: ['--name=a b'] },
    { line: 'pre"mid dle"\'post fix\'', argv: ['premid dlepost fix'] },
    { line: '"say \\"hi\\""', argv: ['say "hi"'] },
    { line: '"back\\\\slash"', argv: ['back\\slash'] },
    { line: '"\\$HOME \\n"', argv: ['$HOME \\n'] },
    { line: "'single \\\" stays'", argv: ['single \\" stays'] },
    { line: 'a\\ b c', argv: ['a b', 'c'] },
    { line: '\\"quoted\\"', argv: ['"quoted"'] },
    { line: 'C:\\Scripts\\tidy.ps1 -Path C:\\Temp', argv: ['C:\\Scripts\\tidy.ps1', '-Path', 'C:\\Temp'] },
    { line: "'\\\\server\\share'", argv: ['\\\\server\\share'] },
    { line: 'trailing\\', argv: ['trailing\\'] },
    {
      line: 'echo $HOME; rm -rf * | cat > x',
      argv: ['echo', '$HOME;', 'rm', '-rf', '*', '|', 'cat', '>', 'x'],
    },
    { line: 'a\\;b', argv: ['a;b'] },
    { line: 'ünïcødé "ß ∑"', argv: ['ünïcødé', 'ß ∑'] },
  ])('splits $line into $argv', ({ line, argv }) => {
    expect(splitArguments(line)).toEqual(argv);
  });

  it.each([
    { line: '-c "echo hi', problem: 'unterminated double quote at character 4' },
    { line: "it's", problem: 'unterminated single quote at character 3' },
    { line: '"a\\"', problem: 'unterminated double quote at character 1' },
  ])('rejects $line: $problem', ({ line, problem }) => {
    expect(() => splitArguments(line)).toThrow(new ArgumentsError(problem));
  });
});
