import type { CourseConfig } from '../../config/pipeline.js';
import type { DocumentKind, MergeFormat } from '../../config/plugins.js';
import { detectKind, readDocument, writeDocument } from './formats.js';
import { SSI_KINDS, type SsiKind } from './types.js';

/*
 * The SSi documents as cf plugs them in: a document kind each (a replay recording, a file given to cf adopt,
 * recognised from its content) and a merge format each (`merge: ssi:lego_pairs`: the document the rest of
 * the SSi pipeline reads, and read back when it is edited by hand).
 */

/** The readers give objects of the SSi item types: items, to cf. */
type Read = ReturnType<DocumentKind['read']>;

function documentKind(kind: SsiKind): DocumentKind {
  return {
    name: kind,
    detect: (doc) => detectKind(doc) === kind,
    read: (doc) => readDocument(kind, doc) as Read,
  };
}

function courseInfo(kind: SsiKind, course: CourseConfig | null) {
  if (!course) throw new Error(`merge ${kind} needs a course`);
  return { code: course.code, targetLanguage: course.targetLanguage, knownLanguage: course.knownLanguage, ...(course.targetName ? { targetName: course.targetName } : {}) };
}

function mergeFormat(kind: SsiKind): MergeFormat {
  return {
    name: kind,
    needsCourse: { message: 'an SSi merge needs the course it belongs to', hint: 'add course: {code: spa_for_eng, target_language: spa, known_language: eng}' },
    // seed_pairs carries a `generated` time (the newest batch's): every SSi merge key counts batch times.
    timed: true,
    write(items, o) {
      const doc = writeDocument(kind, items, { course: courseInfo(kind, o.course), generated: o.generated, ...(o.version ? { version: o.version } : {}) });
      return `${JSON.stringify(doc, null, 2)}\n`;
    },
    read(text) {
      let doc: unknown;
      try {
        doc = JSON.parse(text);
      } catch (e) {
        return { ok: false, error: (e as Error).message };
      }
      return readDocument(kind, doc) as Read;
    },
  };
}

export const documentKinds: readonly DocumentKind[] = SSI_KINDS.map(documentKind);
export const mergeFormats: readonly MergeFormat[] = SSI_KINDS.map(mergeFormat);
