/** Types of check-imports.mjs, for the tests that import it. */
export declare const CORE: string[];
export declare function coreImportsOfDomains(root: string): { files: number; breaches: Array<{ file: string; line: number; spec: string }> };
export declare function importCycles(root: string): { files: number; cycles: string[][] };
