/**
 * An error the user caused or can fix (port in use, missing binary, wrong password, already running).
 * Its message is one line naming the problem and the fix; the CLI prints it without a stack trace.
 */
export class UserError extends Error {
  override readonly name = 'UserError';
}
