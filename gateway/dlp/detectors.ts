/**
 * The data-loss detectors: where in a text an e-mail address, a phone number, a card number,
 * an IBAN or a US social security number is. Each finds candidates with a cheap pattern and
 * keeps only those a maintained checker accepts, so that order numbers, dates and amounts are
 * not taken for personal data:
 *
 *   detector      candidate                                  kept when
 *   ────────────  ─────────────────────────────────────────  ─────────────────────────────────────────
 *   email         local@domain.tld                           validator.isEmail (RFC 5321 lengths, TLD)
 *   card-number   13–19 digits, single spaces/hyphens        validator.isCreditCard: an issuer's
 *                                                            prefix and length, and the Luhn checksum
 *   iban          2 letters, 2 digits, 11–30 alphanumerics   validator.isIBAN: the country's format and
 *                 (spaces between groups allowed)            the ISO 13616 mod-97 checksum
 *   phone         `+` or `(` or a digit, then digits, spaces,  libphonenumber-js (full metadata): a
 *                 ( ) . - with 7–15 digits in all            valid number of its region's numbering
 *                                                            plan — international `+…` form, or the
 *                                                            national form of the gateway's
 *                                                            `phoneRegion` when it names one
 *   us-ssn        ddd-dd-dddd (dashes required)              the SSA's structural rules only: area not
 *                                                            000, 666 or 9xx; group not 00; serial
 *                                                            not 0000. There is no checksum, so any
 *                                                            such dashed number matches (false
 *                                                            positives: other ids written that way);
 *                                                            undashed 9-digit numbers are not detected
 *                                                            (far too many false positives).
 *
 * Other national ids (tax numbers, passports, ids of other countries) are not detected.
 * BENCHMARKS.md ("Data-loss filters") has the cost of each.
 */
import { createRequire } from 'node:module';
import type { CountryCode } from 'libphonenumber-js';
import type * as Phone from 'libphonenumber-js/max';
import type Validator from 'validator';
import type { DataLossDetector } from '../../src/contracts/data-loss.js';

let libs: { validator: typeof Validator; phone: typeof Phone } | undefined;

/**
 * The checking libraries, loaded on first use (or by `loadDetectors()` when a gateway has
 * rules): a workspace without data-loss rules never loads them.
 */
function checkers(): NonNullable<typeof libs> {
  if (!libs) {
    const require = createRequire(import.meta.url);
    libs = { validator: require('validator') as typeof Validator, phone: require('libphonenumber-js/max') as typeof Phone };
  }
  return libs;
}

/** Load the checking libraries now (at start, rather than on a gateway's first filtered call). */
export function loadDetectors(): void {
  checkers();
}

/** Every detector, in the order overlapping matches are settled (the earlier wins). */
export const DETECTORS: readonly DataLossDetector[] = ['card-number', 'iban', 'us-ssn', 'email', 'phone'];

/** What a detector is called in messages ("the arguments hold a card number"). */
export const DETECTOR_LABEL: Readonly<Record<DataLossDetector, string>> = {
  email: 'an e-mail address',
  phone: 'a phone number',
  'card-number': 'a card number',
  iban: 'an IBAN',
  'us-ssn': 'a US social security number',
};

/** One match: `text.slice(start, end)` is the value found. */
export interface Match {
  detector: DataLossDetector;
  start: number;
  end: number;
}

export interface DetectOptions {
  /** Region for phone numbers written without a country code (ISO 3166 alpha-2). */
  phoneRegion?: string;
}

const CARD = /(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])/g;
const IBAN = /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b/g;
const SSN = /(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])/g;
const EMAIL = /[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+/g;
/**
 * A run that could be a phone number. libphonenumber-js parses only these, and only those no
 * earlier detector claimed: its own search over a whole text costs ~0.5 ms per 200 characters.
 */
const PHONE_CANDIDATE = /(?:\+|\(|\b)\d[\d ().-]{5,22}\d/g;

/** Finds a detector's matches; `taken` says whether a range overlaps a match already found (by an earlier detector). */
/** Dates and timestamps (`2024-05-06`, `2024-05-06 10:30`) are the commonest digit runs in tool results. */
const ISO_DATE = /^\d{4}-\d{2}-\d{2}\b/;

type Finder = (text: string, opts: DetectOptions, taken: (start: number, end: number) => boolean) => Array<[start: number, end: number]>;

function each(re: RegExp, text: string, keep: (candidate: string) => [number, number] | boolean): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  re.lastIndex = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const kept = keep(m[0]);
    if (kept === true) out.push([m.index, m.index + m[0].length]);
    else if (kept !== false) out.push([m.index + kept[0], m.index + kept[1]]);
  }
  return out;
}

/**
 * An IBAN candidate may run on into the next word ("DE89… 00 AND"): try it whole, then without
 * its trailing space-separated groups, down to the shortest IBAN (15 characters, Norway).
 */
function ibanWithin(candidate: string): [number, number] | false {
  let end = candidate.length;
  for (;;) {
    const part = candidate.slice(0, end);
    if (part.replaceAll(' ', '').length < 15) return false;
    if (checkers().validator.isIBAN(part.replaceAll(' ', ''))) return [0, end];
    const space = part.lastIndexOf(' ');
    if (space < 0) return false;
    end = space;
  }
}

const FINDERS: Readonly<Record<DataLossDetector, Finder>> = {
  'card-number': (text) => each(CARD, text, (c) => checkers().validator.isCreditCard(c.replace(/[ -]/g, ''))),
  iban: (text) => each(IBAN, text, ibanWithin),
  'us-ssn': (text) => each(SSN, text, () => true),
  email: (text) => each(EMAIL, text, (c) => checkers().validator.isEmail(c)),
  phone: (text, opts, taken) => {
    const out: Array<[number, number]> = [];
    PHONE_CANDIDATE.lastIndex = 0;
    for (let m = PHONE_CANDIDATE.exec(text); m; m = PHONE_CANDIDATE.exec(text)) {
      const start = m.index;
      const end = start + m[0].length;
      // E.164 numbers have at most 15 digits, and the shortest plans 7 (with the country code).
      const digitCount = m[0].replace(/\D/g, '').length;
      if (digitCount < 7 || digitCount > 15 || ISO_DATE.test(m[0]) || taken(start, end)) continue;
      const { parsePhoneNumberFromString } = checkers().phone;
      const parsed = opts.phoneRegion ? parsePhoneNumberFromString(m[0], opts.phoneRegion as CountryCode) : m[0].startsWith('+') ? parsePhoneNumberFromString(m[0]) : undefined;
      if (parsed?.isValid()) out.push([start, end]);
    }
    return out;
  },
};

/**
 * The matches of `detectors` in `text`, in order, without overlaps (a card number is not also
 * a phone number: the detector earlier in DETECTORS wins).
 *
 * @example detect('card 4111 1111 1111 1111', new Set(['card-number'])) // [{ detector: 'card-number', start: 5, end: 24 }]
 */
export function detect(text: string, detectors: ReadonlySet<DataLossDetector>, opts: DetectOptions = {}): Match[] {
  // Every detector needs a digit, except e-mail, which needs an @: most strings have neither.
  const digits = /\d/.test(text);
  const at = text.includes('@');
  if (!digits && !at) return [];
  const found: Match[] = [];
  for (const detector of DETECTORS) {
    if (!detectors.has(detector)) continue;
    if (detector === 'email' ? !at : !digits) continue;
    const taken = (start: number, end: number) => found.some((f) => start < f.end && f.start < end);
    for (const [start, end] of FINDERS[detector](text, opts, taken)) {
      if (taken(start, end)) continue;
      found.push({ detector, start, end });
    }
  }
  return found.sort((a, b) => a.start - b.start);
}
