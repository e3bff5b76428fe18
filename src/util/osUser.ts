import { userInfo } from 'node:os';

/** Who runs cf (the author of a correction, when none is given). */
export function osUser(): string {
  try {
    return userInfo().username || 'unknown';
  } catch {
    return 'unknown';
  }
}
