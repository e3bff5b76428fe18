/** Files of one attempt, under .cf/runs/PHASE/BATCH/attempt-N/ (absent for in-memory runs). */
export interface AttemptFiles {
  dir: string;
  prompt: string;
  input: string;
  output: string;
  stdout: string;
  stderr: string;
}
