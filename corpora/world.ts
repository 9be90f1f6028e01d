/**
 * The small, fixed world that every generated text lives in.
 *
 * Each character has one animal, one home, one favourite food, one favourite colour, one job, one
 * treasured object and one best friend, and these never change. The stories state these facts
 * again and again, in the chat data's exact answer forms ("Tom eats carrots.") and in other words,
 * and the chat data asks about four of them (ASKED_FACTS), so a question like "What does Tom eat?"
 * has exactly one right answer that a model can only know by having learned the world during
 * pretraining.
 */

export type Pronoun = 'he' | 'she';

export interface Place {
  name: string; // "forest"
  at: string; // how one lives there: "in the forest", "by the river"
}

export interface Food {
  name: string; // what one eats: "carrots", "honey"
  one: string; // one piece, for counting: "carrot", "jar of honey"
  many: string; // several pieces: "carrots", "jars of honey"
  plural: boolean; // "carrots are", but "honey is"
}

export interface Job {
  name: string; // "baker"
  work: string; // what the job does, after the name: "bakes bread"
  working: string; // the same as an activity: "baking bread"
  help: string; // how this job helps a neighbour in need: "baked a big loaf of bread"
  need: string; // what the neighbour needs, after "I need": "some bread for a party"
}

export interface Character {
  name: string;
  pronoun: Pronoun;
  animal: string;
  home: string; // a key of PLACES
  food: string; // a key of FOODS
  colour: string;
  job: string; // a key of JOBS
  treasure: string; // an object, always in the character's favourite colour
  friend: string; // another character's name; friendship goes both ways
}

export const PLACES: Record<string, Place> = {
  forest: { name: 'forest', at: 'in the forest' },
  meadow: { name: 'meadow', at: 'in the meadow' },
  river: { name: 'river', at: 'by the river' },
  hill: { name: 'hill', at: 'on the hill' },
  farm: { name: 'farm', at: 'on the farm' },
  village: { name: 'village', at: 'in the village' },
  pond: { name: 'pond', at: 'by the pond' },
  garden: { name: 'garden', at: 'in the garden' },
  beach: { name: 'beach', at: 'at the beach' },
  valley: { name: 'valley', at: 'in the valley' },
};

export const FOODS: Record<string, Food> = {
  carrots: { name: 'carrots', one: 'carrot', many: 'carrots', plural: true },
  honey: { name: 'honey', one: 'jar of honey', many: 'jars of honey', plural: false },
  apples: { name: 'apples', one: 'apple', many: 'apples', plural: true },
  cheese: { name: 'cheese', one: 'piece of cheese', many: 'pieces of cheese', plural: false },
  berries: { name: 'berries', one: 'berry', many: 'berries', plural: true },
  nuts: { name: 'nuts', one: 'nut', many: 'nuts', plural: true },
  fish: { name: 'fish', one: 'fish', many: 'fish', plural: false },
  bread: { name: 'bread', one: 'loaf of bread', many: 'loaves of bread', plural: false },
  soup: { name: 'soup', one: 'bowl of soup', many: 'bowls of soup', plural: false },
  pears: { name: 'pears', one: 'pear', many: 'pears', plural: true },
  corn: { name: 'corn', one: 'ear of corn', many: 'ears of corn', plural: false },
  cake: { name: 'cake', one: 'slice of cake', many: 'slices of cake', plural: false },
  seeds: { name: 'seeds', one: 'seed', many: 'seeds', plural: true },
  acorns: { name: 'acorns', one: 'acorn', many: 'acorns', plural: true },
  pancakes: { name: 'pancakes', one: 'pancake', many: 'pancakes', plural: true },
  cherries: { name: 'cherries', one: 'cherry', many: 'cherries', plural: true },
  peas: { name: 'peas', one: 'pea pod', many: 'pea pods', plural: true },
  cookies: { name: 'cookies', one: 'cookie', many: 'cookies', plural: true },
  grapes: { name: 'grapes', one: 'grape', many: 'grapes', plural: true },
  plums: { name: 'plums', one: 'plum', many: 'plums', plural: true },
};

export const JOBS: Record<string, Job> = {
  baker: {
    name: 'baker',
    work: 'bakes bread',
    working: 'baking bread',
    help: 'baked a big loaf of bread',
    need: 'some bread for a party',
  },
  farmer: {
    name: 'farmer',
    work: 'grows corn',
    working: 'growing corn',
    help: 'brought a basket of corn',
    need: 'some corn for my hens',
  },
  painter: {
    name: 'painter',
    work: 'paints pictures',
    working: 'painting pictures',
    help: 'painted the door a bright new colour',
    need: 'someone to paint my old door',
  },
  teacher: {
    name: 'teacher',
    work: 'teaches at the school',
    working: 'teaching at the school',
    help: 'showed how to read the hard words',
    need: 'help to read this letter',
  },
  builder: {
    name: 'builder',
    work: 'builds houses',
    working: 'building a house',
    help: 'fixed the hole in the roof',
    need: 'help with a hole in my roof',
  },
  fisher: {
    name: 'fisher',
    work: 'catches fish',
    working: 'catching fish',
    help: 'caught three fish for dinner',
    need: 'some fish for dinner',
  },
  gardener: {
    name: 'gardener',
    work: 'grows flowers',
    working: 'planting flowers',
    help: 'planted new flowers by the gate',
    need: 'help with my sad little garden',
  },
  doctor: {
    name: 'doctor',
    work: 'helps sick animals',
    working: 'helping sick animals',
    help: 'put a soft bandage on the sore paw',
    need: 'help with my sore paw',
  },
  singer: {
    name: 'singer',
    work: 'sings songs',
    working: 'singing songs',
    help: 'sang a happy song until everyone smiled',
    need: 'a song to cheer me up',
  },
  tailor: {
    name: 'tailor',
    work: 'sews coats',
    working: 'sewing a coat',
    help: 'sewed up the tear in the coat',
    need: 'help with a tear in my coat',
  },
  cook: {
    name: 'cook',
    work: 'makes soup',
    working: 'making soup',
    help: 'made a warm pot of soup',
    need: 'something warm to eat',
  },
  potter: {
    name: 'potter',
    work: 'makes pots',
    working: 'making pots',
    help: 'made a new pot from clay',
    need: 'a new pot for my plant',
  },
};

export const COLOURS = ['red', 'blue', 'green', 'yellow', 'orange', 'purple', 'pink', 'brown', 'white', 'grey', 'black', 'gold'];

export const TREASURES = ['kite', 'drum', 'ball', 'boat', 'hat', 'scarf', 'bell', 'book', 'lamp', 'cup', 'box', 'flute'];

/**
 * The cast. Friends are listed in pairs, and each names the other. The cast is small on purpose:
 * twelve characters whose facts a model of 0.1 M parameters can learn from a few minutes of
 * stories, so that SFT has knowledge to turn into answers.
 */
export const CHARACTERS: Character[] = [
  { name: 'Tom', pronoun: 'he', animal: 'rabbit', home: 'forest', food: 'carrots', colour: 'blue', job: 'baker', treasure: 'kite', friend: 'Mia' },
  { name: 'Mia', pronoun: 'she', animal: 'mouse', home: 'village', food: 'cheese', colour: 'pink', job: 'tailor', treasure: 'scarf', friend: 'Tom' },
  { name: 'Ben', pronoun: 'he', animal: 'bear', home: 'hill', food: 'honey', colour: 'brown', job: 'builder', treasure: 'drum', friend: 'Lily' },
  { name: 'Lily', pronoun: 'she', animal: 'duck', home: 'pond', food: 'seeds', colour: 'yellow', job: 'singer', treasure: 'boat', friend: 'Ben' },
  { name: 'Sam', pronoun: 'he', animal: 'fox', home: 'meadow', food: 'berries', colour: 'orange', job: 'painter', treasure: 'hat', friend: 'Anna' },
  { name: 'Anna', pronoun: 'she', animal: 'owl', home: 'forest', food: 'nuts', colour: 'grey', job: 'teacher', treasure: 'book', friend: 'Sam' },
  { name: 'Max', pronoun: 'he', animal: 'dog', home: 'farm', food: 'bread', colour: 'red', job: 'farmer', treasure: 'ball', friend: 'Rosa' },
  { name: 'Rosa', pronoun: 'she', animal: 'cat', home: 'village', food: 'fish', colour: 'purple', job: 'doctor', treasure: 'bell', friend: 'Max' },
  { name: 'Leo', pronoun: 'he', animal: 'frog', home: 'pond', food: 'peas', colour: 'green', job: 'fisher', treasure: 'flute', friend: 'Nina' },
  { name: 'Nina', pronoun: 'she', animal: 'hen', home: 'farm', food: 'corn', colour: 'white', job: 'cook', treasure: 'cup', friend: 'Leo' },
  { name: 'Finn', pronoun: 'he', animal: 'otter', home: 'river', food: 'apples', colour: 'black', job: 'potter', treasure: 'boat', friend: 'Ella' },
  { name: 'Ella', pronoun: 'she', animal: 'deer', home: 'valley', food: 'pears', colour: 'gold', job: 'gardener', treasure: 'lamp', friend: 'Finn' },
];

const BY_NAME = new Map(CHARACTERS.map((c) => [c.name, c]));

/** The character with this name; throws for a name that is not in the cast. */
export function character(name: string): Character {
  const found = BY_NAME.get(name);
  if (!found) throw new Error(`no character named ${name}`);
  return found;
}

/** "a" or "an", for the word that follows. */
export function article(word: string): string {
  return /^[aeiou]/i.test(word) ? 'an' : 'a';
}

/** The pronoun forms a sentence needs: he/him/his or she/her/her. */
export function pronouns(c: Character): { they: string; them: string; their: string } {
  return c.pronoun === 'he'
    ? { they: 'he', them: 'him', their: 'his' }
    : { they: 'she', them: 'her', their: 'her' };
}

/** "a blue kite": the character's treasured object, always in their favourite colour. */
export function treasureOf(c: Character): string {
  return `${article(c.colour)} ${c.colour} ${c.treasure}`;
}

/** One fact about a character, as a sentence. These are the exact answer forms the chat data uses. */
export const FACT_SENTENCES = {
  animal: (c: Character) => `${c.name} is ${article(c.animal)} ${c.animal}.`,
  home: (c: Character) => `${c.name} lives ${PLACES[c.home].at}.`,
  food: (c: Character) => `${c.name} eats ${FOODS[c.food].name}.`,
  colour: (c: Character) => `${c.name} likes ${c.colour}.`,
  job: (c: Character) => `${c.name} is ${article(JOBS[c.job].name)} ${JOBS[c.job].name}.`,
  treasure: (c: Character) => `${c.name} has ${treasureOf(c)}.`,
  friend: (c: Character) => `${c.name}'s best friend is ${c.friend}.`,
} as const;

export type FactKind = keyof typeof FACT_SENTENCES;
export const FACT_KINDS = Object.keys(FACT_SENTENCES) as FactKind[];

/**
 * The facts the chat data asks about: four per character, each stated in the stories again and
 * again in exactly these answer forms (and in other words too). Jobs, treasures and friends still
 * colour the stories but are not asked, so a tiny model has fewer facts to learn well.
 */
export const ASKED_FACTS: readonly FactKind[] = ['animal', 'home', 'food', 'colour'];
