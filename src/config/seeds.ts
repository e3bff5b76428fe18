/*
 * The seeds file: read whole (seeds/parse.ts), read again from its previous version after an edit
 * (seeds/incremental.ts), and summarised for the graph through the stat cache (seeds/load.ts).
 */
export type { Item } from './seeds/item.js';
export { loadSeeds, SeedsChanged, type SeedSet } from './seeds/load.js';
