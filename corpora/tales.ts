/**
 * The `tales` pretraining corpus: short seeded stories about the characters of world.ts.
 *
 * Like TinyStories, but built from templates: a handful of story shapes (a lost treasure, sharing
 * food, a visit, a day at work, a rainy day, a counting walk, a party, being brave), each assembled
 * from sentences that have several wordings and slots filled by the random generator. The mix is
 * chosen so that a tiny character-level model has something to learn at every scale:
 *   - spelling and common words (quickly),
 *   - sentence patterns and dialogue in quotes (soon),
 *   - the world's facts, which recur in many wordings: Tom is always a rabbit who eats carrots (slowly),
 *   - small sums inside the stories: "She had seven pears and gave three away, so four were left".
 * The number of combinations is far larger than the corpus, so it cannot be memorised.
 */
import { Random } from '../src/core/random.ts';
import {
  ASKED_FACTS,
  CHARACTERS,
  FACT_SENTENCES,
  FOODS,
  JOBS,
  PLACES,
  article,
  character,
  pronouns,
  treasureOf,
  type Character,
} from './world.ts';

const NUMBER_WORDS = [
  'zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten',
  'eleven', 'twelve', 'thirteen', 'fourteen', 'fifteen', 'sixteen', 'seventeen', 'eighteen',
  'nineteen', 'twenty',
];

const ADJECTIVES = ['little', 'small', 'kind', 'happy', 'brave', 'shy', 'clever', 'curious', 'gentle', 'cheerful', 'busy', 'friendly'];
const TIMES = [
  'One day', 'One sunny morning', 'One rainy afternoon', 'Early one morning', 'One cold winter day',
  'One warm summer evening', 'On Monday', 'On a windy day', 'One bright spring morning', 'Last Sunday',
];
const PLAIN_TIMES = ['One day', 'On Monday', 'Last Sunday', 'One morning', 'One autumn day']; // no weather of their own
const SCENERY = [
  'The sun was warm', 'The sky was clear and blue', 'A soft wind blew', 'The birds were singing',
  'The grass was wet with dew', 'Yellow leaves were falling', 'The flowers smelled sweet',
  'It was very quiet', 'Big white clouds drifted by', 'The air was cool and fresh',
];
const SCENERY_ENDS = ['.', '.', ', and everything looked bright.', ', and the day felt long.', ' that day.'];
const SAID = ['said', 'said', 'said', 'asked', 'cried', 'shouted', 'whispered', 'called'];
const LOOK_SPOTS = [
  'under the bed', 'behind the door', 'in the kitchen', 'under the table', 'in the big box',
  'near the window', 'on the shelf', 'under the stairs', 'by the front door', 'in the basket',
];
const FOUND_SPOTS = [
  'under a big leaf', 'in the tall grass', 'up in a tree', 'behind an old log', 'next to the fence',
  'under a bush', 'beside a big rock', 'in a puddle', 'on top of the wall', 'near the well',
];
const GAMES = ['hide and seek', 'tag', 'catch', 'a guessing game', 'jump rope', 'leapfrog'];
const WALK_THINGS = ['birds', 'ducks', 'butterflies', 'snails', 'flowers', 'stones', 'clouds', 'ladybugs', 'mushrooms', 'bees'];
const RAINBOW = ['red', 'orange', 'yellow', 'green', 'blue', 'purple'];
const FEARS = [
  { thing: 'the dark', scene: 'it grew dark while HERO and FRIEND were still out in the woods', scary: 'It is so dark', brave: 'looked at the stars together until the dark was not scary any more' },
  { thing: 'deep water', scene: 'HERO and FRIEND went down to the pond for a swim', scary: 'The water is too deep', brave: 'splashed in the shallow part first, and then swam a little' },
  { thing: 'thunder', scene: 'a big storm came while HERO was at FRIEND\'s house', scary: 'The thunder is so loud', brave: 'counted slowly after each flash until the storm went away' },
  { thing: 'tall trees', scene: 'HERO and FRIEND came to a very tall tree', scary: 'The tree is too tall', brave: 'climbed one branch at a time, side by side' },
  { thing: 'the old bridge', scene: 'HERO and FRIEND had to cross the old bridge', scary: 'The bridge shakes', brave: 'walked across it step by step, holding on tight' },
];

/** Now and then a sentence about the day, which varies the text without touching any fact. */
function scenery(rng: Random): string[] {
  return rng.chance(0.5) ? [rng.pick(SCENERY) + rng.pick(SCENERY_ENDS)] : [];
}

/** Upper-case the first letter: pronouns and phrases that start a sentence. */
function cap(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Small numbers are spelled out in stories ("seven"); the chat data uses digits. */
function numberWord(n: number): string {
  return NUMBER_WORDS[n];
}

/** "one carrot", "five jars of honey". */
function countOf(foodKey: string, n: number): string {
  const food = FOODS[foodKey];
  return n === 1 ? `one ${food.one}` : `${numberWord(n)} ${food.many}`;
}

/** "One, two, three". */
function countAloud(n: number): string {
  return cap(NUMBER_WORDS.slice(1, n + 1).join(', '));
}

function isOrAre(foodKey: string): string {
  return FOODS[foodKey].plural ? 'are' : 'is';
}

/** Someone other than the given characters, for a story's third role. */
function someoneElse(rng: Random, ...not: Character[]): Character {
  for (;;) {
    const c = rng.pick(CHARACTERS);
    if (!not.includes(c)) return c;
  }
}

/** A quoted line with its speaker, in one of the usual orders. */
function quote(rng: Random, speaker: Character, words: string, verb = rng.pick(SAID)): string {
  if (verb === 'asked' && !words.endsWith('?')) verb = 'said';
  if (words.endsWith('?') && verb === 'said') verb = 'asked';
  // Inside a quote, a final period becomes a comma when the speaker follows.
  const inner = words.endsWith('.') ? words.slice(0, -1) + ',' : words;
  return rng.chance(0.7) ? `"${inner}" ${verb} ${speaker.name}.` : `${speaker.name} ${verb}, "${words}"`;
}

/**
 * The opening sentences: who the hero is and where they live, plus a fact or two. Stories that
 * are about the hero's job say it themselves, so they ask for no job here.
 */
function introduce(rng: Random, c: Character, mentionJob = true): string[] {
  const p = pronouns(c);
  const adj = rng.pick(ADJECTIVES);
  const at = PLACES[c.home].at;
  const lines: string[] = [];
  switch (rng.int(4)) {
    case 0:
      lines.push(`Once upon a time, there was ${article(adj)} ${adj} ${c.animal} named ${c.name}.`, `${cap(p.they)} lived ${at}.`);
      break;
    case 1:
      lines.push(`${c.name} was ${article(adj)} ${adj} ${c.animal} who lived ${at}.`);
      break;
    case 2:
      lines.push(`${cap(at)}, there lived ${article(c.animal)} ${c.animal} called ${c.name}.`);
      break;
    default:
      if (mentionJob) {
        lines.push(`There once was ${article(c.animal)} ${c.animal} named ${c.name}.`, `${c.name} lived ${at} and worked as ${article(c.job)} ${c.job}.`);
        mentionJob = false;
      } else {
        lines.push(`There once was ${article(c.animal)} ${c.animal} named ${c.name}, who lived ${at}.`);
      }
  }
  const facts = [
    `${c.name} loved to eat ${FOODS[c.food].name}.`,
    `${cap(p.their)} favourite colour was ${c.colour}.`,
    `${cap(p.their)} best friend was ${c.friend}.`,
  ];
  if (mentionJob) facts.push(`${cap(p.they)} was ${article(c.job)} ${c.job}, and ${p.they} liked ${JOBS[c.job].working}.`);
  for (let extra = rng.int(3); extra > 0; extra--) lines.push(facts[rng.int(facts.length)]);
  // One or two facts in the exact words the chat data answers with: "Tom eats carrots."
  for (let exact = 1 + rng.int(2); exact > 0; exact--) lines.push(FACT_SENTENCES[rng.pick(ASKED_FACTS)](c));
  return dedupe(lines);
}

/** A character's four asked facts in the chat data's answer forms, in a random order. */
function factsOf(rng: Random, c: Character): string[] {
  const kinds = [...ASKED_FACTS];
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [kinds[i], kinds[j]] = [kinds[j], kinds[i]];
  }
  return kinds.map((k) => FACT_SENTENCES[k](c));
}

function dedupe(lines: string[]): string[] {
  return lines.filter((line, i) => lines.indexOf(line) === i);
}

/** "Mia the mouse" or "Mia, who was a tailor", to remind the reader who the others are. */
function describe(rng: Random, c: Character): string {
  switch (rng.int(3)) {
    case 0:
      return `${c.name} the ${c.animal}`;
    case 1:
      return `${c.name}, who was ${article(c.job)} ${c.job},`;
    default:
      return c.name;
  }
}

function lostTreasure(rng: Random): string[][] {
  const hero = rng.pick(CHARACTERS);
  const friend = rng.chance(0.7) ? character(hero.friend) : someoneElse(rng, hero);
  const p = pronouns(hero);
  const thing = `${hero.colour} ${hero.treasure}`;
  const start = [...introduce(rng, hero), `${cap(p.they)} had ${treasureOf(hero)}, and ${p.they} loved it very much.`];

  const middle = [`${rng.pick(TIMES)}, ${hero.name} could not find ${p.their} ${thing}.`, ...scenery(rng)];
  const spots = [...LOOK_SPOTS];
  for (let i = 0, n = 1 + rng.int(3); i < n; i++) {
    const spot = spots.splice(rng.int(spots.length), 1)[0];
    middle.push(`${cap(p.they)} looked ${spot}.`, i === 0 ? 'It was not there.' : rng.pick(['It was not there either.', 'No ' + hero.treasure + ' there.']));
  }
  middle.push(`${hero.name} felt ${rng.pick(['sad', 'worried', 'very sad', 'upset'])}.`);
  middle.push(`Then ${describe(rng, friend)} came by.`);
  middle.push(quote(rng, friend, `What is wrong, ${hero.name}?`, 'asked'));
  middle.push(quote(rng, hero, `I lost my ${thing}.`));
  middle.push(quote(rng, friend, rng.pick(['I will help you look.', 'Do not worry. We will find it.', 'Let us look together.'])));

  const found = rng.pick(FOUND_SPOTS);
  const end = [`They looked and looked.`, `At last, ${friend.name} found the ${thing} ${found}.`];
  end.push(quote(rng, friend, 'Here it is!', 'shouted'));
  end.push(`${hero.name} was so happy.`, quote(rng, hero, `Thank you, ${friend.name}! You are a good friend.`));
  end.push(
    rng.pick([
      `Then they shared some ${FOODS[hero.food].name}.`,
      `From that day on, ${hero.name} kept ${p.their} ${hero.treasure} in a safe place.`,
      `${hero.name} gave ${friend.name} a big hug.`,
    ]),
  );
  return [start, middle, end];
}

function sharingFood(rng: Random): string[][] {
  const hero = rng.pick(CHARACTERS);
  const other = rng.chance(0.5) ? character(hero.friend) : someoneElse(rng, hero);
  const p = pronouns(hero);
  const total = 3 + rng.int(8); // 3..10
  const given = 1 + rng.int(total - 1); // 1..total-1
  const left = total - given;
  const food = FOODS[hero.food];

  const start = introduce(rng, hero);
  const where = rng.pick(['to the market', 'to the garden', 'into the woods', 'down the lane', 'to the old shop']);
  const middle = [
    `${rng.pick(TIMES)}, ${hero.name} went ${where} to get some ${food.name}.`,
    ...scenery(rng),
    `${cap(p.they)} came home with ${countOf(hero.food, total)}.`,
    `On the way, ${p.they} met ${describe(rng, other)}`.replace(/,$/, '') + '.',
    quote(rng, other, rng.pick(['I am so hungry.', 'I have not eaten all day.', 'My tummy is rumbling.'])),
    `${hero.name} wanted to share.`,
    `${cap(p.they)} gave ${countOf(hero.food, given)} to ${other.name}.`,
  ];
  const sum = rng.int(3);
  if (sum === 0) middle.push(`Now ${hero.name} had ${countOf(hero.food, left)} left.`);
  else if (sum === 1) middle.push(`${cap(numberWord(total))} take away ${numberWord(given)} is ${numberWord(left)}, so ${hero.name} had ${numberWord(left)} left.`);
  else middle.push(`${cap(p.they)} counted what was left: ${countOf(hero.food, left)}.`);

  const end = [
    other.food === hero.food
      ? quote(rng, other, `Thank you! ${cap(food.name)} ${isOrAre(hero.food)} my favourite food too.`)
      : quote(rng, other, `Thank you! I like ${food.name}, but ${FOODS[other.food].name} ${isOrAre(other.food)} my favourite.`),
  ];
  if (rng.chance(0.5)) {
    const back = 1 + rng.int(4);
    end.push(`The next day, ${other.name} brought ${hero.name} ${countOf(other.food, back)}.`);
  }
  end.push(rng.pick([`Sharing made them both happy.`, `They sat down together and had a picnic.`, `${hero.name} smiled. It felt good to share.`]));
  return [start, middle, end];
}

function visitFriend(rng: Random): string[][] {
  const hero = rng.pick(CHARACTERS);
  const friend = character(hero.friend);
  const p = pronouns(hero);
  const start = [...introduce(rng, hero)];
  const sameHome = friend.home === hero.home;
  start.push(
    sameHome
      ? `${cap(p.their)} friend ${friend.name} lived ${PLACES[friend.home].at} too.`
      : `${cap(p.their)} friend ${friend.name} the ${friend.animal} lived ${PLACES[friend.home].at}.`,
  );

  const middle = [`${rng.pick(TIMES)}, ${hero.name} went to visit ${friend.name}.`, ...scenery(rng)];
  if (!sameHome) {
    const past = rng.pick(Object.values(PLACES).filter((pl) => pl.name !== hero.home && pl.name !== friend.home));
    const n = 2 + rng.int(5);
    middle.push(`On the way, ${p.they} walked past the ${past.name} and saw ${numberWord(n)} ${rng.pick(WALK_THINGS)}.`);
  }
  middle.push(`When ${hero.name} got there, ${friend.name} was busy ${JOBS[friend.job].working}.`);
  middle.push(quote(rng, friend, rng.pick([`Hello, ${hero.name}!`, `Hello, ${hero.name}! Come in.`, `What a nice surprise!`])));
  const game = rng.pick(GAMES);
  middle.push(rng.pick([`They played ${game} all afternoon.`, `They played ${game} until they were tired.`, `First they played ${game}, and then they sat in the sun.`]));

  const end = [
    `${friend.name} gave ${hero.name} some ${FOODS[friend.food].name}, because ${FOODS[friend.food].name} ${FOODS[friend.food].plural ? 'were' : 'was'} ${friend.name}'s favourite food.`,
    `When the sun went down, ${hero.name} walked home.`,
    quote(rng, hero, `Goodbye, ${friend.name}! See you tomorrow.`, 'called'),
  ];
  return [start, middle, end];
}

function dayAtWork(rng: Random): string[][] {
  const hero = rng.pick(CHARACTERS);
  const job = JOBS[hero.job];
  const visitor = someoneElse(rng, hero);
  const p = pronouns(hero);
  const start = [...introduce(rng, hero, false), `${hero.name} was ${article(job.name)} ${job.name}, and every day ${p.they} was busy ${job.working}.`];
  const middle = [
    `${rng.pick(TIMES)}, ${hero.name} was ${job.working} when ${describe(rng, visitor)} knocked on the door.`,
    quote(rng, visitor, `Hello, ${hero.name}. I need ${job.need}. Can you help me?`),
    quote(rng, hero, rng.pick(['Of course!', 'Yes, I can help.', 'I would be glad to help.'])),
    `So ${hero.name} ${job.help}.`,
  ];
  const gift = 1 + rng.int(6);
  const end = [
    quote(rng, visitor, rng.pick([`Thank you, ${hero.name}!`, `You are the best ${job.name} ${PLACES[hero.home].at}!`, 'Thank you so much!'])),
    `${visitor.name} gave ${hero.name} ${countOf(visitor.food, gift)} to say thank you.`,
    rng.pick([`${hero.name} liked being ${article(job.name)} ${job.name}.`, `${hero.name} went to bed tired and happy.`, `It was a good day.`]),
  ];
  return [start, middle, end];
}

function rainyDay(rng: Random): string[][] {
  const hero = rng.pick(CHARACTERS);
  const friend = character(hero.friend);
  const p = pronouns(hero);
  const weather = rng.pick(['it rained all morning', 'the rain came down hard', 'it was grey and wet outside', 'a storm blew over the ' + hero.home]);
  const start = [...introduce(rng, hero), `${rng.pick(PLAIN_TIMES)}, ${weather}.`, `${hero.name} had to stay inside, and ${p.they} felt ${rng.pick(['bored', 'a little sad', 'grumpy'])}.`];

  const middle = [`Then there was a knock at the door. It was ${friend.name}, with ${article(friend.colour)} ${friend.colour} umbrella.`];
  const activity = rng.int(3);
  if (activity === 0) {
    const blocks = 3 + rng.int(6);
    const counting = countAloud(blocks);
    middle.push(`They built a tower of blocks.`, quote(rng, hero, `${counting}!`, 'counted'), `The tower had ${numberWord(blocks)} blocks before it fell down.`);
  } else if (activity === 1) {
    middle.push(`They painted pictures.`, `${hero.name} used ${hero.colour} paint, and ${friend.name} used ${friend.colour} paint.`);
  } else {
    middle.push(`They sat by the window and sang songs.`, quote(rng, friend, 'Rain, rain, go away!', 'sang'));
  }

  const end = ['After a while, the rain stopped and a rainbow came out.'];
  if (RAINBOW.includes(hero.colour)) end.push(`${hero.name} saw ${hero.colour} in the rainbow, ${p.their} favourite colour.`);
  else end.push(`There was no ${hero.colour} in the rainbow, but ${hero.name} did not mind.`);
  end.push(rng.pick([`They ran outside to play.`, `It was a good day after all.`, `${hero.name} was glad ${friend.name} had come.`]));
  return [start, middle, end];
}

function countingWalk(rng: Random): string[][] {
  const hero = rng.pick(CHARACTERS);
  const other = someoneElse(rng, hero);
  const p = pronouns(hero);
  const place = rng.pick(Object.values(PLACES));
  const thing = rng.pick(WALK_THINGS);
  const first = 1 + rng.int(5);
  const more = 1 + rng.int(5);
  const total = first + more;

  const start = introduce(rng, hero);
  const middle = [
    `${rng.pick(TIMES)}, ${hero.name} went for a walk ${place.name === hero.home ? 'near home' : 'to the ' + place.name}.`,
    ...scenery(rng),
    `${cap(p.they)} saw ${numberWord(first)} ${thing}.`,
    `Then ${p.they} saw ${numberWord(more)} more.`,
  ];
  if (rng.chance(0.5)) {
    middle.push(quote(rng, hero, `${countAloud(total)}!`, 'counted'));
  } else {
    middle.push(quote(rng, hero, `${cap(numberWord(first))} and ${numberWord(more)} make ${numberWord(total)}!`));
  }
  const end = [
    `Later, ${p.they} met ${other.name} the ${other.animal}.`,
    quote(rng, other, `How many ${thing} did you see?`, 'asked'),
    quote(rng, hero, `I saw ${numberWord(total)} ${thing}.`),
    rng.pick([`Then they walked home together.`, `${other.name} wanted to go and see them too.`, `It was a lovely walk.`]),
  ];
  return [start, middle, end];
}

function party(rng: Random): string[][] {
  const hero = rng.pick(CHARACTERS);
  const p = pronouns(hero);
  const guests = [character(hero.friend)];
  for (let n = 1 + rng.int(3); n > 0; n--) guests.push(someoneElse(rng, hero, ...guests));
  const age = 3 + rng.int(7);

  const start = [...introduce(rng, hero), `${rng.pick(TIMES)} was ${hero.name}'s birthday. ${cap(p.they)} was ${numberWord(age)} years old.`];
  const middle = [`${cap(numberWord(guests.length))} friends came to the party.`];
  for (const g of guests) {
    middle.push(
      rng.chance(0.5)
        ? `${g.name} brought ${FOODS[g.food].name}, ${pronouns(g).their} favourite food.`
        : `${g.name} brought a present wrapped in ${g.colour} paper.`,
    );
  }
  const singer = guests.find((g) => g.job === 'singer');
  if (singer) middle.push(`${singer.name} was a singer, so ${pronouns(singer).they} sang a birthday song.`);
  else middle.push(`Everyone sang a birthday song.`);

  const end = [
    `The cake had ${numberWord(age)} candles.`,
    `${hero.name} blew them out in one big breath.`,
    quote(rng, hero, rng.pick(['This is the best birthday ever!', 'Thank you for coming, everyone!', 'I love my friends!'])),
  ];
  return [start, middle, end];
}

function beingBrave(rng: Random): string[][] {
  const hero = rng.pick(CHARACTERS);
  const friend = character(hero.friend);
  const fear = rng.pick(FEARS);
  const p = pronouns(hero);
  const start = [...introduce(rng, hero), `But ${hero.name} was afraid of ${fear.thing}.`];
  const middle = [
    `${rng.pick(TIMES)}, ${fear.scene.replace('HERO', hero.name).replace('FRIEND', friend.name)}.`,
    quote(rng, hero, `${fear.scary}. I do not want to.`),
    quote(rng, friend, rng.pick(['Do not be afraid. I will stay with you.', 'We can do it together.', 'Take my hand. You are braver than you think.'])),
  ];
  const end = [
    `So they ${fear.brave}.`,
    `${hero.name} was not afraid any more.`,
    rng.pick([
      `${hero.name} learned that a good friend makes everything easier.`,
      quote(rng, hero, `I did it! Thank you, ${friend.name}.`),
      `That night, ${p.they} told everyone how brave ${p.they} had been.`,
    ]),
  ];
  return [start, middle, end];
}

/**
 * The words the pupils spell at school, and the chat data asks to spell: the cast's animals,
 * foods and colours and a few more, each spelled on the board many times in the answer's form.
 */
export const SPELLING_WORDS: readonly string[] = [
  ...new Set([
    ...CHARACTERS.map((c) => c.animal), ...CHARACTERS.map((c) => c.food), ...CHARACTERS.map((c) => c.colour),
    'sun', 'moon', 'tree', 'cake', 'rain', 'star', 'kite', 'ball', 'book', 'home', 'bird', 'milk',
  ]),
].sort();

/** "1, 2, 3, 4.": counting in digits, the chat data's answer form. */
export function countSentence(n: number): string {
  return Array.from({ length: n }, (_, i) => i + 1).join(', ') + '.';
}

/** "3 plus 4 is 7." and "9 minus 5 is 4.": the sums the chat data asks about, in its answer form. */
export function sumSentence(a: number, b: number): string {
  return `${a} plus ${b} is ${a + b}.`;
}
export function differenceSentence(a: number, b: number): string {
  return `${a} minus ${b} is ${a - b}.`;
}

/** The largest number added or taken away in the lessons and the chat data. */
export const MAX_TERM = 6;
/** The tables the lessons draw from, each line equally often: a + b for a, b ≤ MAX_TERM; a − b for b ≤ MAX_TERM, b ≤ a ≤ 2·MAX_TERM. */
export const SUMS: readonly [number, number][] = Array.from({ length: (MAX_TERM + 1) ** 2 }, (_, i) => [Math.floor(i / (MAX_TERM + 1)), i % (MAX_TERM + 1)]);
export const DIFFERENCES: readonly [number, number][] = Array.from({ length: 2 * MAX_TERM + 1 }, (_, a) =>
  Array.from({ length: Math.min(a, MAX_TERM) + 1 }, (_, b): [number, number] => [a, b])).flat();

/**
 * How much each school lesson works: its sums (fewest, most), spelled words and counts. A model of
 * this size learns a table of sums only from many worked lines, so the lessons are dense with them.
 */
const SUMS_PER_LESSON: [number, number] = [8, 12];
const WORDS_PER_LESSON = 2;
const COUNTS_PER_LESSON = 2;

/**
 * A school lesson: the teacher writes sums on the board in digits and the pupils read out the
 * results, then spell a word and count. This is where the model meets arithmetic, spelling and
 * counting in the exact forms the chat data answers with.
 */
function school(rng: Random): string[][] {
  const teacher = rng.pick(CHARACTERS.filter((c) => c.job === 'teacher'));
  const pupils = [someoneElse(rng, teacher)];
  pupils.push(someoneElse(rng, teacher, ...pupils));
  const start = [
    rng.pick([`${rng.pick(PLAIN_TIMES)}, the friends went to school.`, `It was a school day.`, `Everyone sat down at school.`]),
    `${teacher.name} the ${teacher.animal} was the teacher.`,
    quote(rng, teacher, rng.pick(['Today we will do sums.', 'Let us do some sums.', 'Look at the board, everyone.'])),
  ];
  const middle: string[] = [];
  for (let n = SUMS_PER_LESSON[0] + rng.int(SUMS_PER_LESSON[1] - SUMS_PER_LESSON[0] + 1); n > 0; n--) {
    const pupil = rng.pick(pupils);
    if (rng.chance(0.45)) {
      const [a, b] = rng.pick(SUMS);
      middle.push(rng.chance(0.5) ? `${teacher.name} wrote ${a} plus ${b} on the board.` : `On the board it said: ${sumSentence(a, b)}`);
      middle.push(rng.chance(0.6) ? `${pupil.name} said, "${sumSentence(a, b)}"` : quote(rng, pupil, sumSentence(a, b)));
      if (rng.chance(0.25) && a + b > 0) {
        const c = rng.int(Math.min(a + b, MAX_TERM) + 1); // and then take some away: the working of a two-step sum
        middle.push(`Then ${teacher.name} took away ${c}. ${pupil.name} said, "${sumSentence(a, b)} ${differenceSentence(a + b, c)}"`);
      }
    } else {
      const [a, b] = rng.pick(DIFFERENCES);
      middle.push(rng.chance(0.5) ? `${teacher.name} wrote ${a} minus ${b} on the board.` : `On the board it said: ${differenceSentence(a, b)}`);
      middle.push(rng.chance(0.6) ? `${pupil.name} said, "${differenceSentence(a, b)}"` : quote(rng, pupil, differenceSentence(a, b)));
    }
  }
  const speller = rng.pick(pupils);
  const spelled = Array.from({ length: WORDS_PER_LESSON }, () => {
    const word = rng.pick(SPELLING_WORDS);
    return `${rng.pick(pupils).name} said, "The word ${word} is spelled ${word.split('').join('-')}."`;
  });
  const counted = Array.from({ length: COUNTS_PER_LESSON }, () => {
    const n = 2 + rng.int(11);
    return `Then ${rng.pick(pupils).name} counted to ${n}: ${countSentence(n)}`;
  });
  const end = [
    `Then they spelled words.`,
    ...spelled,
    ...counted,
    quote(rng, teacher, rng.pick(['Well done, everyone!', 'Good work today.', `Very good, ${speller.name}!`])),
  ];
  return [start, middle, end];
}

/**
 * A newcomer asks who lives nearby, and a character tells them about two or three others, each
 * told with all four asked facts in the chat data's answer forms.
 */
function newNeighbour(rng: Random): string[][] {
  const host = rng.pick(CHARACTERS);
  const animal = rng.pick(['squirrel', 'badger', 'goat', 'lamb', 'mole', 'hedgehog']);
  const start = [...introduce(rng, host), `${rng.pick(TIMES)}, a new ${animal} came to the ${host.home}.`, `"Who lives here?" asked the ${animal}.`];
  const middle: string[] = [];
  const told: Character[] = [];
  for (let n = 2 + rng.int(2); n > 0; n--) {
    const c = someoneElse(rng, host, ...told);
    told.push(c);
    middle.push(`${host.name} told the ${animal} about ${c.name}.`, `"${factsOf(rng, c).join(' ')}"`);
  }
  const end = [
    quote(rng, host, `And I am ${host.name}. ${factsOf(rng, host).slice(0, 2).join(' ')}`),
    rng.pick([`The ${animal} was glad to meet everyone.`, `Soon the ${animal} had many new friends.`, `The ${animal} smiled and said thank you.`]),
  ];
  return [start, middle, end];
}

// School lessons are 7 of every 18 stories: they carry the sums, spellings and counts the chat data asks about.
const STORY_SHAPES = [lostTreasure, sharingFood, visitFriend, dayAtWork, rainyDay, countingWalk, party, beingBrave, newNeighbour, newNeighbour, newNeighbour, ...Array<typeof school>(7).fill(school)];

/** One story: paragraphs separated by a newline, sentences by a space. */
export function generateStory(rng: Random): string {
  const paragraphs = rng.pick(STORY_SHAPES)(rng);
  const text = paragraphs.map((lines) => lines.join(' ')).join('\n');
  return rng.chance(0.3) ? text + ' The end.' : text;
}

/**
 * Stories from one seed until their total length reaches `targetChars`. Stories already in
 * `exclude` are skipped, so a validation split never repeats a training story.
 */
export function generateTales(seed: number, targetChars: number, exclude: ReadonlySet<string> = new Set()): string[] {
  const rng = new Random(seed);
  const stories: string[] = [];
  let length = 0;
  while (length < targetChars) {
    const story = generateStory(rng);
    if (exclude.has(story)) continue;
    stories.push(story);
    length += story.length + 2;
  }
  return stories;
}

/** The file form: stories separated by a blank line. */
export function talesText(stories: readonly string[]): string {
  return stories.join('\n\n') + '\n';
}
