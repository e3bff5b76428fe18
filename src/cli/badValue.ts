import type { UserError } from '../util/errors.js';

/** A usage error found while making a command's options (a bad value): carried out of commander's action. */
export class BadValue extends Error {
  constructor(readonly error: UserError) {
    super(error.message);
  }
}
