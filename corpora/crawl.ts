/**
 * The `crawl` corpus: a seeded imitation of a web crawl, for the Data stage to clean.
 *
 * Most documents are tales (tales.ts), some of them inside page chrome (a menu above, a cookie
 * notice below) that line rules should strip while keeping the story. Around them is what real
 * crawls hold: pages that are nothing but navigation and cookie banners, exact copies of earlier
 * pages, near copies (the same story with a few words changed), keyword spam, tables of numbers,
 * text in a made-up script, machine-made gibberish and long runs of one character.
 *
 * Every document carries the label of the kind that made it, and a copy names the document it
 * copies (`dupOf`, always an earlier one, as a crawler meets the original first). The labels are
 * for the teacher's precision and recall and for tests; no filter reads them.
 */
import { Random } from '../src/core/random.ts';
import { generateStory } from './tales.ts';
import { CHARACTERS, COLOURS, FOODS, PLACES, TREASURES } from './world.ts';

export const CRAWL_LABELS = [
  'clean', 'boilerplate', 'duplicate', 'near-duplicate', 'spam', 'number-table', 'made-up-script', 'gibberish', 'char-run',
] as const;
export type CrawlLabel = (typeof CRAWL_LABELS)[number];

export interface CrawlDoc {
  id: number;
  text: string;
  label: CrawlLabel;
  /** For a duplicate or near-duplicate: the id of the (earlier) document it copies. */
  dupOf?: number;
}

/** How often each kind is drawn. Clean tales are most of a crawl worth keeping, as in real ones. */
const WEIGHTS: Record<CrawlLabel, number> = {
  clean: 62, boilerplate: 7, duplicate: 5, 'near-duplicate': 7, spam: 5, 'number-table': 4, 'made-up-script': 4, gibberish: 4, 'char-run': 2,
};

const SITES = ['Tales Corner', 'Story Time Hub', 'Meadow News', 'Kids Reading Room', 'The Forest Post', 'Bedtime Stories Online'];
const MENU = ['Home', 'About', 'About us', 'Contact', 'Blog', 'Shop', 'Stories', 'Archive', 'Login', 'Sign in', 'Register', 'FAQ', 'Help', 'Search', 'Categories', 'Latest', 'Popular'];
const COOKIE_LINES = [
  'This site uses cookies to improve your experience.',
  'We use cookies to give you the best experience on our website. Accept all cookies',
  'By continuing to browse you agree to our use of cookies.',
  'Cookie settings | Accept | Reject',
  'We value your privacy.',
  'Read our Privacy Policy and Cookie Policy',
];
const FOOTER_LINES = [
  'Terms of Use | Privacy Policy | Sitemap',
  'All rights reserved.',
  'Follow us on Facebook, Twitter and Instagram',
  'Share this story: Facebook Twitter Email',
  'Subscribe to our newsletter',
  'Back to top',
  'Powered by WordPress',
  'Page 1 of 12 Next »',
  'Related posts',
  'Leave a comment',
  'Enable JavaScript to see the comments.',
];

/** A menu bar: "Home | Stories | Contact | Login". */
function menu(rng: Random): string {
  const items = new Set<string>();
  for (let n = 3 + rng.int(5); items.size < n; ) items.add(rng.pick(MENU));
  return [...items].join(rng.pick([' | ', ' · ', '  ', ' / ']));
}

function copyright(rng: Random): string {
  return `© ${2015 + rng.int(11)} ${rng.pick(SITES)}`;
}

/** A tale in page chrome: a site name and menu above, a cookie line and a footer below. */
function inChrome(rng: Random, story: string): string {
  const top = [rng.pick(SITES), menu(rng)];
  const bottom = [rng.pick(COOKIE_LINES), rng.pick(FOOTER_LINES), copyright(rng)];
  return [...top, '', story, '', ...bottom].join('\n');
}

/** A page that is nothing but chrome: menus, banners, footers, a few teaser titles. */
function boilerplate(rng: Random): string {
  const lines = [rng.pick(SITES), menu(rng)];
  for (let n = 2 + rng.int(6); n > 0; n--) {
    const c = rng.pick(CHARACTERS);
    lines.push(rng.pick([
      () => `${c.name} and the ${rng.pick(TREASURES)} - Read more »`,
      () => `New: ${rng.pick(COLOURS)} ${rng.pick(TREASURES)} stories`,
      () => `Posted in ${rng.pick(Object.keys(PLACES))} stories | ${rng.int(40)} comments`,
      () => rng.pick(COOKIE_LINES),
      () => rng.pick(FOOTER_LINES),
      () => menu(rng),
    ])());
  }
  lines.push(rng.pick(COOKIE_LINES), copyright(rng));
  return lines.join('\n');
}

/** An exact copy of the earlier document. */
const duplicate = (original: string) => original;

/**
 * The same page with a few words changed, the way mirrors and scrapers alter a story: a name, a
 * colour, a small word. Only whole words are swapped, so the copy keeps its shape and length.
 */
function nearDuplicate(rng: Random, original: string): string {
  const tokens = original.split(/( +|\n)/);
  const wordAt = tokens.map((t, i) => (/^[A-Za-z]+$/.test(t) ? i : -1)).filter((i) => i >= 0);
  const pool = [...CHARACTERS.map((c) => c.name), ...COLOURS, 'little', 'big', 'happy', 'very', 'then', 'soon', 'once', 'again', 'old', 'new'];
  const changed = new Set<number>();
  for (let n = Math.min(2 + rng.int(4), wordAt.length); changed.size < n; ) {
    const i = rng.pick(wordAt);
    let word = rng.pick(pool);
    if (/^[A-Z]/.test(tokens[i])) word = word.charAt(0).toUpperCase() + word.slice(1);
    if (changed.has(i) || word === tokens[i]) continue;
    tokens[i] = word;
    changed.add(i);
  }
  return tokens.join('');
}

/** Keyword spam: the same few phrases over and over, to rank for them. */
function spam(rng: Random): string {
  const food = rng.pick(Object.values(FOODS));
  const thing = rng.pick([food.name, `${rng.pick(COLOURS)} ${rng.pick(TREASURES)}s`]);
  const phrases = [`cheap ${thing}`, `best ${thing}`, `buy ${thing} online`, `${thing} sale`, `${thing} near me`, `free ${thing}`, `${thing} discount`];
  const lines: string[] = [];
  for (let n = 4 + rng.int(8); n > 0; n--) {
    const line: string[] = [];
    for (let k = 3 + rng.int(6); k > 0; k--) line.push(rng.pick(phrases));
    lines.push(line.join(rng.pick([' ', ', ', ' - '])) + rng.pick(['', '.', '!', '!!!']));
  }
  return lines.join('\n');
}

/** A table of numbers, as scraped from a statistics page. */
function numberTable(rng: Random): string {
  const columns = 3 + rng.int(4);
  const lines = [Array.from({ length: columns }, (_, i) => (i === 0 ? 'Year' : `Q${i}`)).join(' | ')];
  const year = 1990 + rng.int(25);
  for (let r = 0; r < 8 + rng.int(20); r++) {
    const cells = [String(year + r)];
    for (let c = 1; c < columns; c++) {
      cells.push(rng.pick([
        () => String(rng.int(100_000)),
        () => (rng.next() * 100).toFixed(1) + '%',
        () => (rng.next() * 1000).toFixed(2),
        () => (rng.int(2) ? '-' : '') + rng.int(999).toLocaleString('en-US'),
      ])());
    }
    lines.push(cells.join(' | '));
  }
  return lines.join('\n');
}

// An invented alphabet: one glyph per Latin letter, from the runic block.
const GLYPHS = [...'ᚠᚢᚦᚨᚱᚲᚷᚹᚺᚾᛁᛃᛇᛈᛉᛊᛏᛒᛖᛗᛚᛜᛞᛟᚣᚫ'];

/** A tale written in a made-up script: every letter swapped for a glyph, punctuation kept. */
function madeUpScript(rng: Random): string {
  return generateStory(rng).replace(/[a-z]/gi, (ch) => GLYPHS[ch.toLowerCase().charCodeAt(0) - 97]);
}

const SYLLABLES = ['ka', 'zu', 'rix', 'mo', 'pla', 'tor', 'vek', 'sna', 'gri', 'lum', 'dax', 'ow', 'fle', 'qui', 'bro', 'nek', 'sha', 'pim'];

/** Machine-made gibberish: words of random syllables, or encoded blobs pasted as text. */
function gibberish(rng: Random): string {
  const lines: string[] = [];
  const blobs = rng.chance(0.3);
  for (let n = 3 + rng.int(8); n > 0; n--) {
    if (blobs) {
      const alphabet = rng.chance(0.5) ? '0123456789abcdef' : 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
      lines.push(Array.from({ length: 1 + rng.int(4) }, () => Array.from({ length: 16 + rng.int(48) }, () => rng.pick([...alphabet])).join('')).join(' '));
      continue;
    }
    const ws = Array.from({ length: 6 + rng.int(12) }, () => Array.from({ length: 2 + rng.int(3) }, () => rng.pick(SYLLABLES)).join(''));
    ws[0] = ws[0].charAt(0).toUpperCase() + ws[0].slice(1);
    lines.push(ws.join(' ') + rng.pick(['.', '.', '?', '!']));
  }
  return lines.join('\n');
}

/** Long runs of one character: a broken page, a loading bar, a held-down key. */
function charRun(rng: Random): string {
  const lines: string[] = [];
  for (let n = 1 + rng.int(6); n > 0; n--) {
    const ch = rng.pick(['a', 'z', '!', '=', '-', '.', 'x', '*', '0', '#']);
    const run = ch.repeat(40 + rng.int(400));
    lines.push(rng.chance(0.3) ? rng.pick(['Loading', 'hahaha', 'Wait', 'ok']) + run : run);
  }
  return lines.join('\n');
}

function drawLabel(rng: Random): CrawlLabel {
  const total = Object.values(WEIGHTS).reduce((s, w) => s + w, 0);
  let x = rng.next() * total;
  for (const label of CRAWL_LABELS) if ((x -= WEIGHTS[label]) < 0) return label;
  return 'clean';
}

/** Documents from one seed until their texts reach `targetChars` characters. */
export function generateCrawl(seed: number, targetChars: number): CrawlDoc[] {
  const rng = new Random(seed);
  const docs: CrawlDoc[] = [];
  const cleanIds: number[] = [];
  let length = 0;
  while (length < targetChars) {
    let label = drawLabel(rng);
    // A copy needs an original: the first documents of a crawl are all tales.
    if ((label === 'duplicate' || label === 'near-duplicate') && cleanIds.length < 20) label = 'clean';
    const id = docs.length;
    let doc: CrawlDoc;
    if (label === 'duplicate' || label === 'near-duplicate') {
      const of = rng.pick(cleanIds);
      const text = label === 'duplicate' ? duplicate(docs[of].text) : nearDuplicate(rng, docs[of].text);
      doc = { id, text, label, dupOf: of };
    } else {
      const make: Record<Exclude<CrawlLabel, 'duplicate' | 'near-duplicate'>, () => string> = {
        clean: () => {
          const story = generateStory(rng);
          return rng.chance(0.3) ? inChrome(rng, story) : story;
        },
        boilerplate: () => boilerplate(rng),
        spam: () => spam(rng),
        'number-table': () => numberTable(rng),
        'made-up-script': () => madeUpScript(rng),
        gibberish: () => gibberish(rng),
        'char-run': () => charRun(rng),
      };
      doc = { id, text: make[label](), label };
      if (label === 'clean') cleanIds.push(id);
    }
    docs.push(doc);
    length += doc.text.length;
  }
  return docs;
}

/** The file form: one JSON object a line, `dupOf` only on copies. */
export function crawlJsonl(docs: readonly CrawlDoc[]): string {
  return docs.map((d) => JSON.stringify(d.dupOf === undefined ? { id: d.id, text: d.text, label: d.label } : { id: d.id, text: d.text, label: d.label, dupOf: d.dupOf })).join('\n') + '\n';
}
