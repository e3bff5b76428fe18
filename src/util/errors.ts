/**
 * Input the user must fix (exit code 2). Every variant names the file and, where known, the line,
 * says what is wrong and how to fix it. Produced as values; printed in one place (src/cli/main.ts).
 */
export type UserError =
  | { kind: 'config'; file: string; line?: number; column?: number; path?: string; message: string; hint?: string }
  | { kind: 'seeds'; file: string; line?: number; message: string; hint?: string }
  | { kind: 'usage'; message: string; hint?: string };

export function formatUserError(e: UserError): string {
  let where = '';
  switch (e.kind) {
    case 'config':
      where = `${e.file}${e.line ? `:${e.line}${e.column ? `:${e.column}` : ''}` : ''}: ${e.path ? `${e.path}: ` : ''}`;
      break;
    case 'seeds':
      where = `${e.file}${e.line ? `:${e.line}` : ''}: `;
      break;
    case 'usage':
      where = '';
      break;
    default: {
      const never: never = e;
      return String(never);
    }
  }
  return `cf: error: ${where}${e.message}${e.hint ? `\n  hint: ${e.hint}` : ''}`;
}

/** Thrown only to carry a UserError through code that cannot return a Result; caught at the CLI edge. */
export class UserErrorException extends Error {
  constructor(readonly error: UserError) {
    super(formatUserError(error));
  }
}

/** Ends a command with a user error (exit 2), from code that returns a value otherwise. */
export function fail(e: UserError): never {
  throw new UserErrorException(e);
}
