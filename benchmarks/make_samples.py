"""Write the sample data sets in bertviz_core/data/samples/ from templates and word lists (seeded).

    python -m benchmarks.make_samples        # rewrites reviews.csv and headlines.csv

The texts are invented for this project and released under CC0 1.0 (see samples/README.md).
Most rows carry their label in plain words; a share of them mix signals (praise then complaint,
negation, headlines touching two topics, lukewarm reviews) so a small model cannot reach 100%.
"""

from __future__ import annotations

import argparse
import csv
import io
import random
from collections.abc import Callable

# Where the product reads its samples from is where they are written.
from bertviz_core.data.samples import SAMPLES_DIR

SEED = 20240601
REVIEW_ROWS = 1600
HEADLINE_ROWS = 1600


def _words(text: str) -> list[str]:
    """A comma-separated word list written as a block of text."""
    return [" ".join(word.split()) for word in text.split(",") if word.strip()]


# ---------------------------------------------------------------------------------------------
# Reviews: positive / negative

THINGS = {
    "gadget": _words(
        """
        headset, blender, phone case, desk lamp, kettle, keyboard, mouse, charger, speaker,
        smartwatch, tablet, router, webcam, toaster, vacuum cleaner, hair dryer, electric
        toothbrush, coffee grinder, fitness tracker, power bank, microwave, printer, monitor,
        e-reader, drone, electric scooter, baby monitor, air fryer, rice cooker, sewing machine,
        projector, sound bar, thermostat, doorbell camera
        """
    ),
    "wearable": _words(
        """
        pair of running shoes, rain jacket, backpack, winter coat, pair of jeans, wool sweater,
        pair of hiking boots, sun hat, leather wallet, yoga mat, scarf, raincoat, swimsuit,
        cycling helmet, pair of gloves, suitcase, handbag, pair of sandals, tracksuit, linen shirt
        """
    ),
    "story": _words(
        """
        novel, film, series, documentary, audiobook, comic, thriller, sequel, podcast, memoir,
        cookbook, board game, musical, cartoon, biography, crime drama, sitcom, video game,
        short story collection, romantic comedy, horror film, poetry book, stage play
        """
    ),
    "meal": _words(
        """
        pizza, curry, burger, salad, ramen, breakfast, dessert, sandwich, soup, tasting menu,
        pasta, taco plate, sushi platter, steak, kebab, omelette, cheesecake, noodle bowl,
        vegetable stew, plate of fish and chips, brunch, lasagne, milkshake, dumpling basket
        """
    ),
}
ASPECTS = {
    "gadget": _words(
        """
        battery life, sound, build quality, price, design, screen, button layout, setup, app,
        cable, motor, display, charging speed, speaker volume, manual, warranty, touchscreen,
        fan noise, handle, lid, remote, software, packaging
        """
    ),
    "wearable": _words(
        """
        fit, fabric, stitching, price, colour, zipper, sole, padding, sizing, material, lining,
        pocket layout, closure, waterproofing, collar, strap, heel, weight
        """
    ),
    "story": _words(
        """
        plot, acting, ending, pacing, dialogue, soundtrack, main character, writing, twist,
        narrator, cinematography, villain, humour, script, opening chapter, costume design, visual
        effects work, voice acting, artwork, finale
        """
    ),
    "meal": _words(
        """
        flavour, portion, service, price, sauce, crust, seasoning, presentation, broth, wait,
        dressing, texture, temperature, dough, filling, staff, atmosphere, delivery
        """
    ),
}
# Adjectives that fit any aspect of anything (a price, a plot, a sauce); the domains' own ones below
# describe the thing itself, so a review never calls a monitor fluffy or a price snug.
GOOD = _words(
    """
    excellent, superb, great, fantastic, impressive, outstanding, terrific, first-rate, brilliant,
    wonderful, splendid, lovely, solid, perfect, amazing, marvellous, fabulous, top-notch
    """
)
BAD = _words(
    """
    disappointing, awful, terrible, mediocre, poor, lousy, dreadful, abysmal, dire, frustrating,
    underwhelming, pathetic, rubbish, shocking
    """
)
THING_GOOD = {
    "gadget": _words(
        """
        sturdy, reliable, sleek, quiet, handy, dependable, durable, powerful, compact, intuitive,
        well built, easy to use
        """
    ),
    "wearable": _words(
        """
        comfortable, stylish, cosy, durable, roomy, elegant, light, warm, well made, flattering,
        hard-wearing
        """
    ),
    "story": _words(
        """
        gripping, charming, hilarious, moving, heartwarming, clever, inventive, thoughtful, witty,
        beautiful, fresh, touching
        """
    ),
    "meal": _words(
        """
        delicious, fresh, tasty, generous, satisfying, flavourful, juicy, hearty,
        mouth-watering, tender
        """
    ),
}
THING_BAD = {
    "gadget": _words(
        """
        flimsy, clunky, noisy, sluggish, fragile, faulty, unreliable, rickety, wobbly, glitchy,
        overpriced, cheaply made
        """
    ),
    "wearable": _words(
        """
        itchy, stiff, scratchy, flimsy, baggy, uncomfortable, shapeless, overpriced, cheaply made,
        tight
        """
    ),
    "story": _words(
        """
        dull, tedious, boring, predictable, muddled, cheesy, shallow, pointless, confusing, lifeless,
        slow, forgettable
        """
    ),
    "meal": _words(
        """
        bland, stale, soggy, greasy, overcooked, undercooked, lukewarm, chewy, tasteless, salty,
        dry, overpriced
        """
    ),
}
INTENSIFIERS = _words(
    """
    really, very, truly, incredibly, remarkably, surprisingly, genuinely, extremely, pretty,
    absolutely
    """
)
# What people add after the verdict: some fit any review, some only a gadget, a garment, a story or a meal.
GOOD_PHRASES = {
    "any": _words(
        """
        exceeded my expectations, highly recommend it, worth every penny, five stars from me, my new
        favourite, couldn't be happier, a wonderful surprise, I keep recommending it to friends, it
        made my week, glad I took the chance, great value for money, would happily pay double
        """
    ),
    "gadget": _words(
        """
        works like a charm, I would buy it again, arrived early and well packed, my whole family
        loves it, better than the expensive brands, I use it every day, does exactly what it
        promises, a joy to use, the best purchase this year, I have already ordered a second one
        """
    ),
    "wearable": _words(
        """
        fits like a glove, I would buy it again, arrived early and well packed, I wear it every day,
        better than the expensive brands, the best purchase this year, I have already ordered a
        second one, compliments every time I wear it
        """
    ),
    "story": _words(
        """
        I was smiling the whole time, it deserves every award, I could not stop until the end, a
        pleasure from start to finish, it stayed with me for days, I want more of it
        """
    ),
    "meal": _words(
        """
        I cleared the plate, we will be back next week, the best meal this year, the kitchen
        knows what it is doing, I have already booked again, worth the wait
        """
    ),
}
BAD_PHRASES = {
    "any": _words(
        """
        a waste of money, would not recommend it, one star is too many, not worth the price, a
        complete letdown, never again, avoid at all costs, total rip-off, save yourself the trouble,
        I regret paying for it
        """
    ),
    "gadget": _words(
        """
        stopped working after a week, fell apart within days, I sent it back, arrived damaged,
        customer service ignored my emails, broke the first time I used it, went straight in the
        bin, nothing like the photos, the refund took weeks, it smelled odd from day one, the
        seller never replied, I want a refund
        """
    ),
    "wearable": _words(
        """
        the seams split after a week, fell apart within days, I sent it back, arrived damaged,
        nothing like the photos, the refund took weeks, it smelled odd from day one, the seller
        never replied, I want a refund, shrank in the first wash
        """
    ),
    "story": _words(
        """
        I fell asleep halfway, I gave up after an hour, I want those hours back, the reviews lied,
        I saw every twist coming
        """
    ),
    "meal": _words(
        """
        half of it went in the bin, they forgot half our order, I felt sick afterwards, we waited
        an hour for it, cold by the time it arrived, the bill was a joke
        """
    ),
}
OPENERS = {
    "any": ["", "", "", "Honestly, ", "Well, ", "Overall, ", "In short, ", "To be fair, "],
    "gadget": ["After a month, ", "Update: ", "So far, "],
    "wearable": ["After a month, ", "Update: ", "So far, "],
    "story": ["Without spoilers: "],
    "meal": [],
}
LUKEWARM = [
    "It is okay, I suppose.",
    "Does the job, nothing more.",
    "Average {thing}, average {aspect}.",
    "The {thing} is fine for now.",
    "Neither good nor bad, just a {thing}.",
    "It's a {thing}. It does what it says.",
    "Some days I like the {aspect}, some days I don't.",
    "Hard to say much about this {thing}.",
    "Three stars: the {aspect} is so-so.",
    "Not sure how I feel about the {thing} yet.",
    "The {aspect} could be better, could be worse.",
    "Fine, I guess. The {aspect} is what you'd expect.",
    "My partner likes the {thing}; I'm not so sure.",
    "Mixed feelings about the {aspect}.",
    "For some people this {thing} will be right.",
]


def _review(rng: random.Random) -> tuple[str, str]:
    domain = rng.choice(list(THINGS))
    thing = rng.choice(THINGS[domain])
    aspect, other_aspect = rng.sample(ASPECTS[domain], 2)
    good, good2 = rng.sample(GOOD, 2)
    bad, bad2 = rng.sample(BAD, 2)
    fine, awful = rng.choice(THING_GOOD[domain]), rng.choice(THING_BAD[domain])  # of the thing itself
    very = rng.choice(INTENSIFIERS)
    opener = rng.choice(OPENERS["any"] + OPENERS[domain])
    roll = rng.random()

    if roll < 0.07:  # lukewarm: the label is a coin toss, as it is for people
        return rng.choice(LUKEWARM).format(thing=thing, aspect=aspect), rng.choice(["positive", "negative"])
    if roll < 0.15:  # mixed: the last clause decides
        if rng.random() < 0.5:
            text = rng.choice(
                [
                    f"The {aspect} is {good}, but the {other_aspect} is {bad}, so it's a no from me.",
                    f"I wanted to love this {thing}, but the {aspect} is {bad}.",
                    f"{_cap(good)} {aspect}, shame about the {bad2} {other_aspect}.",
                    f"Sounded {good} on paper; in reality the {aspect} is {bad}.",
                ]
            )
            return text, "negative"
        text = rng.choice(
            [
                f"The {aspect} is {bad}, but the {other_aspect} is so {good} that I forgive it.",
                f"I expected {_a(awful)} {thing}, but it turned out {fine}.",
                f"{_cap(bad)} {aspect}, but {_a(fine)} {thing} overall.",
                f"Ignore the bad reviews: the {aspect} is {good}.",
            ]
        )
        return text, "positive"
    if roll < 0.22:  # negation
        if rng.random() < 0.5:
            return rng.choice(
                [
                    f"Not {awful} at all, and the {aspect} is {good}.",
                    f"Never had {_a(thing)} this {fine}.",
                    f"I can't find anything {bad} about the {aspect}.",
                ]
            ), "positive"
        return rng.choice(
            [
                f"Not as {fine} as I hoped.",
                f"The {aspect} is not {good} at all.",
                f"I wouldn't call the {aspect} {good}.",
                f"Nothing {fine} about this {thing}.",
            ]
        ), "negative"

    label = "positive" if rng.random() < 0.5 else "negative"
    adjective, adjective2, of_thing = (good, good2, fine) if label == "positive" else (bad, bad2, awful)
    phrases = GOOD_PHRASES if label == "positive" else BAD_PHRASES
    phrase = rng.choice(phrases["any"] + phrases[domain])
    templates = [
        f"The {aspect} is {adjective}.",
        f"This {thing} is {very} {of_thing}.",
        f"{_cap(of_thing)} {thing}, {phrase}.",
        f"{_cap(phrase)}.",
        f"The {aspect} is {adjective} and the {other_aspect} is {adjective2}.",
        f"{_cap(_a(very))} {of_thing} {thing}; {phrase}.",
        f"{_cap(adjective)}! {_cap(phrase)}.",
        f"What {_a(of_thing)} {thing}.",
        f"{_cap(adjective)} {aspect}, {adjective2} {other_aspect}.",
        f"I tried this {thing}: {phrase}.",
        f"If you want {_a(of_thing)} {thing}, this is it.",
        f"{_cap(phrase)}, and the {aspect} is {adjective}.",
        f"Five minutes in I knew: {_a(of_thing)} {thing}.",
        f"I found the {aspect} {adjective}.",
    ]
    text = rng.choice(templates)
    if opener and ":" not in text and not text.startswith(("Five minutes", "I tried")):  # no two openings
        text = opener + (text if text.startswith("I ") else text[0].lower() + text[1:])
    return text, label


def _cap(text: str) -> str:
    """``text`` with its first letter upper case (``str.capitalize`` would lower an "I" further on)."""
    return text[:1].upper() + text[1:]


def _a(word: str) -> str:
    """The article that fits before ``word``, with the word."""
    return ("an " if word[0].lower() in "aeiou" else "a ") + word


# ---------------------------------------------------------------------------------------------
# Headlines: sports / technology / food / weather

CITIES = _words(
    """
    Riverton, Lakeside, Northgate, Port Ellis, Maplewood, Ashford, Brightwater, Cedar Falls,
    Kingsbridge, Oakham, Silverton, Westbury, Elmstead, Harborview, Redcliff, Stonebridge,
    Fairhaven, Glenmore, Highfield, Millbrook, Pinecrest, Sandford, Thornbury, Windmere, Easthaven,
    Goldcrest, Larkhill, Moorfield, Newhaven, Queensport, Rosedale, Summerlea, Valleyford, Woodhurst
    """
)
TEAMS = _words(
    """
    Hawks, Rovers, United, Wolves, Comets, Giants, Sharks, Rangers, Falcons, Titans, Lions, Pirates,
    Foxes, Bears, Dragons, Stallions, Raiders, Eagles
    """
)
SPORTS = _words(
    """
    football, tennis, basketball, rugby, cricket, hockey, cycling, rowing, athletics, volleyball,
    golf, swimming, badminton, baseball, handball, skiing, boxing, sailing, triathlon, netball
    """
)
ATHLETES = _words(
    """
    striker, goalkeeper, captain, sprinter, coach, midfielder, pitcher, swimmer, cyclist, veteran
    defender, teenage prodigy, world champion, winger, fly-half, bowler, jockey, skipper, boxer,
    long jumper, manager
    """
)
SPORT_EVENTS = _words(
    """
    final, derby, semi-final, title race, playoff, cup tie, marathon, grand prix, championship,
    league opener, relay, tournament
    """
)
COMPANIES = _words(
    """
    Nexora, Quantix, Byteforge, Lumina Labs, Corvid Systems, Pixelhaus, Orbitek, Syncwave, Datamint,
    Voltra, Cloudberry, Heliotrope, Kernelworks, Nimbus Nine, Zettaware, Stackly
    """
)
GADGETS = _words(
    """
    smartphone, laptop, tablet, smartwatch, headset, chip, router, drone, e-reader, graphics card,
    robot vacuum, camera, VR headset, games console, smart speaker, electric car, satellite phone,
    foldable phone, 3D printer
    """
)
TECH_THINGS = _words(
    """
    software update, app, operating system, browser, cloud service, search engine, AI model,
    chatbot, password manager, payment system, video platform, database, encryption tool,
    translation app, map service, voice assistant, firmware, programming language, antivirus
    """
)
DISHES = _words(
    """
    sourdough, ramen, tacos, curry, dumplings, croissants, paella, cheesecake, pho, lasagne,
    falafel, gelato, oysters, barbecue, risotto, pancakes, bagels, kimchi, empanadas, goulash,
    baklava, pretzels, sushi, tiramisu, chowder, flatbread
    """
)
INGREDIENTS = _words(
    """
    olive oil, coffee beans, cocoa, saffron, butter, rice, tomatoes, honey, avocados, wheat,
    vanilla, chillies, garlic, lentils, mushrooms, potatoes, cinnamon, oats, lemons, cheese
    """
)
FOOD_PEOPLE = _words(
    """
    chef, baker, pastry cook, food critic, street vendor, cheesemaker, brewer, restaurant owner,
    butcher, grocer, sommelier, home cook
    """
)
WEATHER_EVENTS = _words(
    """
    storm, heatwave, cold snap, thunderstorms, heavy rain, snowfall, fog, hailstorm, gales, drought,
    frost, flash floods, blizzard, sleet, dust storm, tornado, ice storm, sea mist, monsoon rain
    """
)
WEATHER_WORDS = _words(
    """
    forecast, temperatures, rainfall, wind gusts, humidity, sunshine, cloud cover, pollen count, UV
    levels, river levels, air pressure, snow depth, wind chill
    """
)
DAYS = _words(
    """
    Monday, Tuesday, Wednesday, Thursday, Friday, the weekend, Saturday, Sunday, tonight, tomorrow
    """
)
NUMBERS = _words(
    """
    two, three, four, five, ten, twelve, forty, a hundred
    """
)


def _pick(rng: random.Random, words: list[str]) -> str:
    return rng.choice(words)


def _sports(rng: random.Random) -> str:
    city, other = rng.sample(CITIES, 2)
    team, other_team = rng.sample(TEAMS, 2)
    return rng.choice(
        [
            f"{city} {team} beat {other} {other_team} in {_pick(rng, SPORT_EVENTS)} thriller",
            f"{city} {_pick(rng, ATHLETES)} signs {_pick(rng, NUMBERS)}-year contract",
            f"Late goal sends {city} {team} into the {_pick(rng, SPORT_EVENTS)}",
            f"{_cap(_pick(rng, SPORTS))}: {city} {team} stay top after narrow win",
            f"Injury rules {city} {_pick(rng, ATHLETES)} out of the {_pick(rng, SPORT_EVENTS)}",
            f"{other} {other_team} sack coach after {_pick(rng, NUMBERS)} straight defeats",
            f"Record crowd watches {city} {_pick(rng, SPORTS)} {_pick(rng, SPORT_EVENTS)}",
            f"{city} {_pick(rng, ATHLETES)} breaks national record in {_pick(rng, SPORTS)}",
            f"Penalty shootout decides {city} {_pick(rng, SPORT_EVENTS)}",
            f"{city} {team} announce new {_pick(rng, ATHLETES)} ahead of the season",
            f"Underdogs {other} {other_team} stun champions with late comeback",
            f"{_cap(_pick(rng, SPORTS))} league fines {city} {team} over crowd trouble",
            f"Olympic hopeful from {city} wins {_pick(rng, SPORTS)} gold",
            f"{city} {team} draw with {other} {other_team} in tense {_pick(rng, SPORT_EVENTS)}",
            f"Referee under fire after {city} {_pick(rng, SPORT_EVENTS)}",
            f"{city} hosts {_pick(rng, SPORTS)} {_pick(rng, SPORT_EVENTS)} for the first time",
        ]
    )


def _technology(rng: random.Random) -> str:
    company, other = rng.sample(COMPANIES, 2)
    return rng.choice(
        [
            f"{company} unveils thinner {_pick(rng, GADGETS)} with longer battery life",
            f"{company} {_pick(rng, TECH_THINGS)} outage hits millions of users",
            f"{company} buys {other} in deal worth billions",
            f"Data breach at {company} exposes customer passwords",
            f"New {_pick(rng, TECH_THINGS)} from {company} promises faster searches",
            f"{company} recalls {_pick(rng, GADGETS)} over overheating batteries",
            f"Startup in {_pick(rng, CITIES)} raises millions for {_pick(rng, TECH_THINGS)}",
            f"{company} releases open-source {_pick(rng, TECH_THINGS)}",
            f"Review: {company}'s new {_pick(rng, GADGETS)} is fast but pricey",
            f"Regulators question {company} over {_pick(rng, TECH_THINGS)} privacy",
            f"{company} and {other} settle patent dispute over {_pick(rng, GADGETS)} design",
            f"Hackers exploit flaw in popular {_pick(rng, TECH_THINGS)}",
            f"{company} cuts {_pick(rng, NUMBERS)} hundred jobs as {_pick(rng, GADGETS)} sales slow",
            f"Engineers in {_pick(rng, CITIES)} build {_pick(rng, GADGETS)} prototype with solar charging",
            f"{company} delays {_pick(rng, TECH_THINGS)} launch after software bugs",
            f"Schools in {_pick(rng, CITIES)} ban phones during lessons",
        ]
    )


def _food(rng: random.Random) -> str:
    city = _pick(rng, CITIES)
    return rng.choice(
        [
            f"{city} {_pick(rng, FOOD_PEOPLE)} shares secret to perfect {_pick(rng, DISHES)}",
            f"Price of {_pick(rng, INGREDIENTS)} rises for a third month",
            f"New {_pick(rng, DISHES)} bar opens in {city} old town",
            f"{city} {_pick(rng, DISHES)} festival draws hungry crowds",
            f"Recipe: {_pick(rng, DISHES)} with {_pick(rng, INGREDIENTS)} in thirty minutes",
            f"{city} restaurant earns its first star",
            f"Shortage of {_pick(rng, INGREDIENTS)} leaves bakeries scrambling",
            f"Critics name {city} the best city for {_pick(rng, DISHES)}",
            f"{_cap(_pick(rng, FOOD_PEOPLE))} in {city} bakes {_pick(rng, NUMBERS)} thousand "
            f"{_pick(rng, DISHES)}",
            f"Why everyone in {city} is queuing for {_pick(rng, DISHES)}",
            f"Vegan {_pick(rng, DISHES)} wins {city} cooking contest",
            f"School lunches in {city} get more {_pick(rng, INGREDIENTS)} and less sugar",
            f"Family {_pick(rng, DISHES)} shop in {city} closes after fifty years",
            f"Tasting menu built around {_pick(rng, INGREDIENTS)} delights diners",
            f"Street food market returns to {city} harbour",
            f"Farmers report bumper harvest of {_pick(rng, INGREDIENTS)}",
        ]
    )


def _weather(rng: random.Random) -> str:
    city = _pick(rng, CITIES)
    event = _pick(rng, WEATHER_EVENTS)
    return rng.choice(
        [
            f"{_cap(event)} expected in {city} on {_pick(rng, DAYS)}",
            f"Warning issued as {event} heads for {city}",
            f"{_cap(_pick(rng, WEATHER_WORDS))} to break records in {city} {_pick(rng, DAYS)}",
            f"{city} braces for {event} and falling {_pick(rng, WEATHER_WORDS)}",
            f"Forecasters predict a mild and dry {_pick(rng, DAYS)} in {city}",
            f"Roads closed in {city} after {event}",
            f"{_cap(event)} brings {city} to a standstill",
            f"Clear skies and sunshine for {city} {_pick(rng, DAYS)}",
            f"Coldest night of the year recorded in {city}",
            f"{city} rivers rise after days of {event}",
            f"Met office upgrades {event} warning for {city}",
            f"{_cap(event)} leaves thousands in {city} without power",
            f"Will the {event} last? {city} forecast for {_pick(rng, DAYS)}",
            f"Hottest day of the year as {_pick(rng, WEATHER_WORDS)} soar in {city}",
            f"Umbrellas out: showers return to {city} {_pick(rng, DAYS)}",
            f"Gardeners in {city} warned of {event} overnight",
        ]
    )


def _crossover(rng: random.Random) -> tuple[str, str]:
    """Headlines that touch two topics. Annotators disagree on these: the first topic is the label
    seven times in ten, the second otherwise."""
    city = _pick(rng, CITIES)
    team = _pick(rng, TEAMS)
    company = _pick(rng, COMPANIES)
    event = _pick(rng, WEATHER_EVENTS)
    dish = _pick(rng, DISHES)
    text, first, second = rng.choice(
        [
            (f"{_cap(event)} postpones {city} {team} {_pick(rng, SPORT_EVENTS)}", "sports", "weather"),
            (f"{city} stadium installs {company} {_pick(rng, GADGETS)} screens", "sports", "technology"),
            (
                f"{city} {team} players try {dish} diet before the {_pick(rng, SPORT_EVENTS)}",
                "sports",
                "food",
            ),
            (f"{company} app tells {city} cyclists when {event} is coming", "technology", "weather"),
            (f"{company} {_pick(rng, GADGETS)} orders {dish} for you", "technology", "food"),
            (f"{company} sponsors {city} {team} with smart shirts", "technology", "sports"),
            (f"{_cap(event)} ruins {city} {_pick(rng, INGREDIENTS)} harvest", "food", "weather"),
            (f"{city} {team} fans eat record number of {dish}", "food", "sports"),
            (f"{company} robot {_pick(rng, FOOD_PEOPLE)} serves {dish} in {city}", "food", "technology"),
            (f"{_cap(event)} forces {city} marathon to start at dawn", "weather", "sports"),
            (f"Satellite from {company} spots {event} forming near {city}", "weather", "technology"),
            (
                f"{_cap(event)} keeps {city} {dish} stalls empty on {_pick(rng, DAYS)}",
                "weather",
                "food",
            ),
            (
                f"{city} celebrates with {dish} after {team} win the {_pick(rng, SPORT_EVENTS)}",
                "sports",
                "food",
            ),
            (f"Power cut during {event} knocks {company} servers offline", "technology", "weather"),
            (
                f"{company} {_pick(rng, TECH_THINGS)} predicts {city} {_pick(rng, WEATHER_WORDS)}",
                "weather",
                "technology",
            ),
            (f"Hot {dish} sells out as {event} hits {city}", "food", "weather"),
        ]
    )
    return text, first if rng.random() < 0.7 else second


HEADLINE_MAKERS: dict[str, Callable[[random.Random], str]] = {
    "sports": _sports,
    "technology": _technology,
    "food": _food,
    "weather": _weather,
}


def _headline(rng: random.Random) -> tuple[str, str]:
    if rng.random() < 0.16:
        return _crossover(rng)
    label = rng.choice(list(HEADLINE_MAKERS))
    return HEADLINE_MAKERS[label](rng), label


# ---------------------------------------------------------------------------------------------


def _unique_rows(
    make: Callable[[random.Random], tuple[str, str]], count: int, seed: int
) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    rows: dict[str, str] = {}
    attempts = 0
    while len(rows) < count:
        attempts += 1
        if attempts > count * 50:
            raise RuntimeError("the templates cannot make that many distinct rows")
        text, label = make(rng)
        rows.setdefault(text, label)
    return list(rows.items())


def _to_csv(rows: list[tuple[str, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["text", "label"])
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def main() -> None:
    # No options: the parser is there so that --help explains instead of rewriting the files.
    argparse.ArgumentParser(
        prog="python -m benchmarks.make_samples", description=__doc__.splitlines()[0]
    ).parse_args()
    SAMPLES_DIR.mkdir(parents=True, exist_ok=True)
    for name, make, count, seed in (
        ("reviews", _review, REVIEW_ROWS, SEED),
        ("headlines", _headline, HEADLINE_ROWS, SEED + 1),
    ):
        data = _to_csv(_unique_rows(make, count, seed))
        (SAMPLES_DIR / f"{name}.csv").write_bytes(data)
        print(f"{name}.csv: {count} rows, {len(data) / 1024:.0f} KB")


if __name__ == "__main__":
    main()
