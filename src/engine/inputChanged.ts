/** An input changed between computing a key and reading the content for the run: nothing is recorded. */
export class InputChanged extends Error {}
