"""Print the scenario cards the evaluation sets were written from (seeded: the same cards every run).

A card draws a field, a situation, a persona (age, region, patience, who they are), a register and a
length for one message; the writer writes one message per card in the persona's voice, and line k of
`<set>.jsonl` is the message for card k. The situations are notes for the writer, in plain English, so
the writer's words are its own and not the taxonomy's. `no_diacritics_typos` cards are written in
ordinary Vietnamese into `noise_source.jsonl`; `noise.py` then makes the set from them.

    python classifier/data/eval/make_cards.py --set rambling          # the cards, one block each
    python classifier/data/eval/make_cards.py --set rambling --jsonl  # the same as JSON Lines
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import asdict, dataclass, field

from classifier.corpus import FIELDS

SEED = 20261203

# (situation, urgent): an immediate hazard to people is urgent, a risk is not (DATA.md, "Label rules").
SITUATIONS: dict[str, list[tuple[str, bool]]] = {
    "admin_procedures": [
        ("the birth certificate for a new baby is late past the promised date", False),
        ("the ward office clerk was rude and threw papers back", False),
        ("the online public-service portal will not accept the uploaded scan", False),
        ("asked to come back four times for one missing stamp", False),
        ("does not know which office handles a house-ownership certificate after the ward merger", False),
        ("the ID-card (CCCD) appointment keeps being postponed", False),
        ("the receipt paper says one date, the counter says another", False),
        ("someone at the counter hinted at paying extra to go faster", False),
        ("wants to know the papers needed to register temporary residence for a tenant", False),
        ("a building-permit application has had no answer for two months", False),
        ("the queue-number machine at the one-stop office is broken and people fight over turns", False),
        ("a marriage-status confirmation was refused without a reason", False),
    ],
    "urban_infrastructure": [
        ("a deep hole in the road that motorbikes fall into", False),
        ("sidewalk tiles lifted and broken, an old person tripped", False),
        ("a manhole cover is missing on a busy street right now, open hole", True),
        ("the road was dug up for pipes and never filled back", False),
        ("the handrail of a small canal bridge is broken off", False),
        ("the ground in front of the house is sinking and cracking", False),
        ("a cracked manhole cover rattles and tilts when cars pass", False),
        ("the asphalt patch is higher than the road and makes a bump", False),
        ("the edge of the road by the canal is collapsing", True),
        ("the alley concrete is broken into pieces after a truck drove in", False),
        ("steel plates over a trench are loose and slide", False),
        ("a footbridge has rusted steps with holes", False),
    ],
    "traffic": [
        ("the traffic light at a junction has been stuck on red all morning", False),
        ("a no-entry sign was turned the wrong way", False),
        ("cars park on both sides of the road and block it every evening", False),
        ("young men race motorbikes on the bridge at night", False),
        ("a junction with no light where crashes happen every week", False),
        ("trucks go against the one-way direction at dawn", False),
        ("a jam every school pick-up time because parents stop in the road", False),
        ("the countdown timer of a light is dark", False),
        ("a road marking for the bike lane has faded away completely", False),
        ("a container truck parks overnight on the road without lights", False),
        ("the speed-limit sign is hidden behind a billboard", False),
        ("a crash just happened because the light is dead, people hurt", True),
    ],
    "public_transport": [
        ("the bus drove past the stop without stopping though people waved", False),
        ("the driver was rude to an old lady and shouted", False),
        ("a route's timetable says every 15 minutes but nobody came for an hour", False),
        ("the bus-stop shelter has no roof and the bench is broken", False),
        ("the metro line's ticket gate rejects the card", False),
        ("the waterbus cancelled the trip without notice", False),
        ("the conductor did not give a ticket but took the money", False),
        ("the bus air conditioning is broken and it is packed", False),
        ("asks whether students get a cheaper monthly pass and where to buy it", False),
        ("a route was cut and the neighbourhood now has no bus", False),
        ("the bus driver uses the phone while driving fast", False),
        ("the app shows wrong arrival times for the buses", False),
    ],
    "water_supply": [
        ("no water from the tap since yesterday evening", False),
        ("the water comes out weak, cannot reach the upstairs tank", False),
        ("tap water is yellow and smells of rust", False),
        ("a supply pipe burst on the street and water sprays out", False),
        ("the water bill doubled though the family was away", False),
        ("the meter runs even with every tap closed", False),
        ("the water company cut the water without any notice", False),
        ("asks how to get a water connection for a new house", False),
        ("water has white sediment and the kids got rashes", False),
        ("the meter was replaced and now reads wrong", False),
        ("water only comes at 2 am so people stay up to fill buckets", False),
    ],
    "drainage_flooding": [
        ("the street floods knee deep every time it rains", False),
        ("the storm drain in front of the house is blocked with plastic", False),
        ("sewage water comes back up into the house through the floor drain", False),
        ("high tide floods the road and motorbikes stall", False),
        ("water so deep that a child was nearly swept away, people trapped", True),
        ("the drain grate is clogged with leaves and mud", False),
        ("after the road was raised, rain runs into the houses", False),
        ("a small canal is choked and does not drain", False),
        ("the sewer smells and overflows on the alley", False),
        ("the pumping station did not run and the area flooded", False),
        ("water stays on the road for two days after rain", False),
    ],
    "public_lighting": [
        ("the street lights on a stretch have been off for a week", False),
        ("a lamp flickers all night", False),
        ("the street lights stay on in broad daylight", False),
        ("a lamp post is leaning after a truck hit it", False),
        ("the alley is pitch dark because the only lamp is dead", False),
        ("the lamp post door is open and wires show", False),
        ("the park's lights are broken and people are afraid at night", False),
        ("half the lights on a bridge are out", False),
        ("a lamp head hangs loose and swings in the wind", False),
        ("the lights under the overpass are all off", False),
    ],
    "trees": [
        ("a big branch is cracked and hangs over the road", False),
        ("a tree just fell across the road and blocks it, a motorbike is under it", True),
        ("a tree leans toward a house after the storm", False),
        ("someone cut down a street tree at night", False),
        ("tree roots push up the sidewalk and the wall", False),
        ("branches touch the power lines", False),
        ("a dead tree in the park could fall on children", False),
        ("the park grass is not cut and the flowerbeds are full of rubbish", False),
        ("asks for pruning before the rainy season", False),
        ("a branch fell on a parked car just now, people nearby", True),
        ("a shop owner poisons a street tree so it dies and does not hide the sign", False),
    ],
    "electricity": [
        ("power cut for the whole block since morning, no notice", False),
        ("a live wire is sparking and hanging low over the alley", True),
        ("the transformer on the pole hums and smokes", True),
        ("the electricity bill is three times normal", False),
        ("power goes on and off every few minutes and burns appliances", False),
        ("a power line fell on the street after the storm", True),
        ("the meter box was moved and now the reading is wrong", False),
        ("the scheduled outage ran far past the notice", False),
        ("voltage is so low the fan barely turns", False),
        ("wires in a tangle on the pole sometimes spark at night", False),
        ("asks how to move the meter to the new owner's name", False),
    ],
    "telecom": [
        ("cables hang low across the alley and catch trucks", False),
        ("a telecom pole leans and the cables sag", False),
        ("mobile signal is gone inside the apartment block", False),
        ("home internet cut for three days and the provider does not come", False),
        ("spam calls about loans ten times a day", False),
        ("text messages pretending to be the bank", False),
        ("a snapped cable lies across the sidewalk", False),
        ("a mess of dead cables wrapped around a tree", False),
        ("the fibre line was cut by road works", False),
        ("calls selling property every day from different numbers", False),
    ],
    "urban_order": [
        ("street vendors take the whole sidewalk and people walk on the road", False),
        ("a neighbour builds an extra floor without a permit", False),
        ("a restaurant puts tables and chairs on the sidewalk", False),
        ("a shop builds a roof extension over the alley", False),
        ("advertising posters stuck on every pole and wall", False),
        ("a construction site has no net and bricks fall on the alley", True),
        ("an old house's wall is cracking and leaning over the street", True),
        ("motorbike parking takes the sidewalk in front of a cafe", False),
        ("construction materials piled on the road for weeks", False),
        ("a house builds out into the canal corridor", False),
        ("a big illegal billboard on a house roof", False),
    ],
    "environment": [
        ("garbage not collected for three days", False),
        ("someone dumps building rubble at an empty lot at night", False),
        ("the canal is full of floating rubbish", False),
        ("a dead dog on the road smells", False),
        ("a factory lets out black smoke", False),
        ("people burn rubbish in the open and the smoke fills the houses", False),
        ("the garbage truck leaks dirty water along the street", False),
        ("a pig farm smell in the neighbourhood", False),
        ("dust from a gravel yard covers everything", False),
        ("rubbish bags piled at the corner draw rats", False),
        ("dog owners leave dog poo on the sidewalk", False),
        ("a workshop pours paint waste into the drain", False),
    ],
    "noise": [
        ("karaoke next door until 1 am", False),
        ("a construction site pours concrete at night", False),
        ("a bar plays loud music every night", False),
        ("a loudspeaker selling things drives around the alley", False),
        ("a workshop grinds metal from 5 am", False),
        ("a neighbour's dogs bark all night", False),
        ("a wedding party with loud music past midnight", False),
        ("motorbikes with modified exhausts roar past", False),
        ("the gym plays loud music from dawn", False),
        ("a church or pagoda loudspeaker very early every day", False),
    ],
    "security": [
        ("a motorbike was stolen in front of the house", False),
        ("snatch thieves grab phones on the street", False),
        ("a gambling group in the alley every evening", False),
        ("strangers inject drugs in the park", False),
        ("a fight with knives is happening right now", True),
        ("a scam call pretending to be the police asked for money", False),
        ("a fire in a house in the alley right now", True),
        ("suspicious men watching houses at night", False),
        ("a gas smell from a neighbour's house, maybe a leak", True),
        ("youths gather drinking and threatening passers-by", False),
        ("someone broke into the house while the family was away", False),
        ("a child is lost and the parents are searching in the dark", True),
    ],
    "health": [
        ("many workers got sick after lunch at the factory canteen", True),
        ("the hospital made a patient wait all day and staff were rude", False),
        ("the health insurance card was refused at the clinic", False),
        ("a pharmacy sells antibiotics without prescription", False),
        ("dengue cases in the alley and nobody sprays", False),
        ("a street stall sells food with flies and reused oil", False),
        ("a private clinic with no licence gives injections", False),
        ("asks where to get vaccination for a baby", False),
        ("the emergency room refused a patient", False),
        ("expired milk sold at a shop near a school", False),
        ("an old man collapsed on the street and no ambulance came", True),
    ],
}

# Out of scope, or too unclear to decide: the `other` label.
OTHER_SITUATIONS = [
    "a greeting and nothing else", "thanks to the staff for fixing something last month", "a test message",
    "an advert for a loan or a property", "unpaid wages from a private company", "a pension that has not arrived",
    "a child's school fees or teacher", "a quarrel with the neighbour over a shared wall (a private dispute)",
    "a shop sold a broken phone and will not refund", "a question about the hotline itself (hours, is it free)",
    "a follow-up with no content ('any news?', 'still waiting')", "a question about the weather or a holiday",
    "a joke or a wrong number", "a family matter (a son who does not visit)", "a request to borrow money",
    "praise for the city in general", "a message cut off before the problem",
    "a land dispute between two families over inheritance", "a landlord keeps the deposit",
    "asks for a job at the city", "a complaint about a TV programme", "a lost wallet (asks if anyone found it)",
]

# In-scope messages that look out of scope at first sight (other_scope's near misses).
NEAR_MISSES = [
    ("health", "starts with thanks to the hotline, then: the clinic refused the insurance card again"),
    ("health", "about a school, but the problem is food poisoning at the school canteen"),
    ("water_supply", "about the landlord, but the problem is the water meter reading"),
    ("electricity", "a greeting, then a power cut since morning"),
    ("security", "looks like a private dispute, but the neighbour threatens with a knife"),
    ("admin_procedures", "a question about the hotline, then about the papers for a birth certificate"),
    ("environment", "a joke tone, then: rubbish not collected for a week"),
    ("noise", "a test message, then: karaoke every night"),
    ("public_lighting", "thanks for last time, the same street light is out again"),
    ("urban_order", "a shop complaint, but the shop puts goods on the sidewalk"),
    ("telecom", "an advert received by SMS: asks to stop the spam messages"),
    ("traffic", "about a school, but parents block the road at pick-up time"),
    ("trees", "a greeting and a question, then a branch about to fall at a school gate"),
    ("drainage_flooding", "weather talk, then: the street floods every rain"),
    ("public_transport", "a job question mixed with: the bus to the industrial park stopped running"),
    ("urban_infrastructure", "a follow-up that names the problem again: the pothole is still there"),
    ("admin_procedures", "a pension question that is really about a slow document at the ward office"),
    ("security", "a lost wallet, but it was snatched by a thief on a motorbike"),
    ("water_supply", "a family matter, but the problem is no water for the elderly mother"),
    ("environment", "a landlord complaint, but the problem is the rubbish pile the landlord makes"),
]

# Cards added after a set's first draw, in their own random stream so the first cards keep their numbers:
# English 311 reports are often a category and a place in a few words ("Abandoned vehicle - 12 Le Loi").
EXTRAS: dict[str, list[tuple[str, str, bool]]] = {
    "english_311": [
        ("traffic", "abandoned car on the street for weeks, flat tyres", False),
        ("traffic", "abandoned motorbike chained to a pole, rusting", False),
        ("traffic", "a car blocks my driveway / gate every morning", False),
        ("traffic", "double-parked cars block a lane", False),
        ("traffic", "stop sign knocked down", False),
        ("traffic", "traffic signal out at a junction", False),
        ("urban_order", "graffiti sprayed on a wall", False),
        ("urban_order", "fly-posting on a utility box", False),
        ("urban_order", "vendor cart blocks the sidewalk", False),
        ("environment", "missed trash pickup", False),
        ("environment", "missed trash pickup, second week", False),
        ("environment", "illegal dumping of a mattress and sofa (bulk item)", False),
        ("environment", "fly-tipping in the lane", False),
        ("environment", "dog fouling on the footpath", False),
        ("environment", "dead animal in the road", False),
        ("urban_infrastructure", "pothole", False),
        ("urban_infrastructure", "pothole, deep, in the bike lane", False),
        ("urban_infrastructure", "sidewalk repair needed, broken slabs", False),
        ("urban_infrastructure", "sinkhole opening in the road", True),
        ("public_lighting", "streetlight out", False),
        ("public_lighting", "several streetlights out on a block", False),
        ("public_lighting", "streetlight on during the day", False),
        ("trees", "tree down blocking the road", True),
        ("trees", "hanging limb over the sidewalk", False),
        ("drainage_flooding", "clogged catch basin", False),
        ("drainage_flooding", "sewer backup in the street", False),
        ("water_supply", "water main break, water gushing", False),
        ("water_supply", "no water / low pressure", False),
        ("noise", "noise complaint: loud party", False),
        ("noise", "construction after hours", False),
        ("electricity", "power outage on the block", False),
        ("electricity", "downed power line", True),
        ("telecom", "low-hanging cable over the street", False),
        ("public_transport", "bus stop sign missing", False),
        ("security", "car break-in, window smashed", False),
        ("health", "restaurant hygiene, rats in the kitchen", False),
        ("admin_procedures", "permit application status", False),
        ("other", "a category with no detail ('General request', 'Other')", False),
        ("other", "a one-word message or an empty-looking report", False),
    ],
}

AGES = ("teenager", "student about 20", "worker about 30", "parent about 40", "shop owner about 50",
        "retired about 65", "very old, about 80, dictating to a grandchild")
REGIONS = ("Saigon born", "from the Mekong delta", "from Hanoi", "from the north, in Saigon for years",
           "from central Vietnam", "Chinese-Vietnamese in Cholon")
PATIENCE = ("calm and polite", "tired, has reported before", "angry", "anxious", "sarcastic", "in a hurry",
            "shy, apologises a lot", "chatty")

REGIONAL_WORDS = {
    "south": "hẻm, trụ đèn, xà bần, miệng cống, hồ nước (the tank), bển, mấy ổng, hông, nhen, dzậy, quá trời, "
             "cái vụ, ba/má, tui, mình ên, bị gì đâu",
    "north": "ngõ, ngách, cột đèn, bể nước, phế thải, rãnh, vỉa hè, thế, nhỉ, ạ, chứ, bố/mẹ, tôi, "
             "cái bọn, đấy, mãi, từ hôm kia",
}
TEENCODE = "ko, k, dc, j, bít, ak, z, r, ng, mn, vs, hok, lun, wa, oy, nhìu, cj, e"
ENGLISH_311 = {
    "urban_infrastructure": "pothole, sidewalk repair, trip hazard, sinkhole, manhole cover",
    "traffic": "signal out, stop sign down, double parked, blocked driveway, speeding",
    "public_transport": "bus no-show, bus stop, route, driver",
    "water_supply": "no water, low pressure, water main break, brown water, water bill",
    "drainage_flooding": "flooded street, clogged storm drain, catch basin, sewer backup",
    "public_lighting": "streetlight out, light on during the day, flickering",
    "trees": "tree down, hanging limb, tree trimming",
    "electricity": "power outage, downed line, transformer",
    "telecom": "low-hanging cable, robocalls, no signal",
    "urban_order": "sidewalk obstruction, illegal construction, vendor, fly-posting",
    "environment": "missed trash pickup, illegal dumping, fly-tipping, dog fouling, dead animal, bulk item",
    "noise": "noise complaint, loud music, construction after hours",
    "security": "stolen, break-in, drug dealing, scam",
    "health": "food poisoning, restaurant hygiene, clinic, insurance",
    "admin_procedures": "permit, certificate, office, appointment",
}
IDENTIFIERS = ("full address with old and new ward names", "a phone number", "a full name", "a case or file code",
               "a house number inside nested alleys (45/12/3A)", "the landmark next to it", "an apartment block/unit")


@dataclass
class Card:
    number: int
    set: str
    field: str
    situation: str
    persona: str
    register: str
    length: str
    urgent: bool = False
    lang: str = "vi"
    also: list[str] = field(default_factory=list)
    notes: str = ""


@dataclass(frozen=True)
class SetPlan:
    per_field: int
    others: int
    registers: tuple[str, ...]
    lengths: tuple[str, ...]
    lang: str = "vi"


PLANS = {
    "sms_terse": SetPlan(6, 12, ("SMS", "Zalo chat", "text to the hotline number"),
                         ("3-5 words", "6-9 words", "10-12 words"), "vi"),
    "rambling": SetPlan(5, 10, ("long Zalo message", "web form essay", "email", "phone-call transcript"),
                        ("6-8 sentences", "9-12 sentences"), "vi"),
    "multi_issue": SetPlan(6, 8, ("SMS", "chat", "web form", "email", "phone-call transcript"),
                           ("2-3 sentences", "4-6 sentences"), "vi"),
    "regional_vi": SetPlan(6, 10, ("SMS", "Zalo chat", "Facebook comment", "phone-call transcript"),
                           ("one line", "2-3 sentences", "4-5 sentences"), "vi"),
    "english_311": SetPlan(6, 12, ("311 app free text", "FixMyStreet-style report", "email", "tweet at the city"),
                           ("one line", "2-3 sentences", "4-5 sentences"), "en"),
    "mixed_vi_en": SetPlan(6, 10, ("Zalo chat", "Facebook message", "email", "SMS"),
                           ("one line", "2-3 sentences", "4-5 sentences"), "mixed"),
    "no_diacritics_typos": SetPlan(6, 10, ("SMS", "chat", "web form"),
                                   ("one line", "2-3 sentences"), "vi"),
    "address_heavy": SetPlan(6, 10, ("web form", "SMS", "email", "Zalo chat"),
                             ("problem in 2-6 words", "problem in one short clause"), "vi"),
    "other_scope": SetPlan(0, 80, ("SMS", "chat", "email", "phone-call transcript", "web form"),
                           ("a few words", "one line", "2-4 sentences"), "vi"),
}
SETS = tuple(PLANS)

ENGLISH_PERSONAS = ("American expat teacher", "British retiree", "Australian backpacker", "Vietnamese student writing "
                    "English", "Korean engineer writing English", "Viet Kieu from California visiting family",
                    "US resident used to 311", "UK resident used to FixMyStreet")
MIX_LEVELS = ("a few English nouns in Vietnamese", "half and half, switching mid-sentence",
              "English sentences with Vietnamese place words and particles")


def _persona(rng: random.Random, set_name: str) -> str:
    if set_name == "english_311":
        return f"{rng.choice(ENGLISH_PERSONAS)}, {rng.choice(PATIENCE)}"
    return f"{rng.choice(AGES)}, {rng.choice(REGIONS)}, {rng.choice(PATIENCE)}"


def cards(set_name: str, seed: int = SEED) -> list[Card]:
    """The cards of one set, in the order of the set's lines."""
    plan = PLANS[set_name]
    rng = random.Random(f"{seed}:{set_name}")
    slots: list[str] = [f for f in FIELDS for _ in range(plan.per_field)] + ["other"] * plan.others
    if set_name == "other_scope":
        slots += [f"near:{i}" for i in range(len(NEAR_MISSES))]
    rng.shuffle(slots)
    queues = {f: rng.sample(SITUATIONS[f], len(SITUATIONS[f])) for f in FIELDS}
    other_queue = rng.sample(OTHER_SITUATIONS, len(OTHER_SITUATIONS))
    out: list[Card] = []
    for number, slot in enumerate(slots, 1):
        card = Card(number=number, set=set_name, field=slot, situation="", persona=_persona(rng, set_name),
                    register=rng.choice(plan.registers), length=rng.choice(plan.lengths), lang=plan.lang)
        if slot.startswith("near:"):
            card.field, card.situation = NEAR_MISSES[int(slot[5:])]
        elif slot == "other":
            card.situation = other_queue.pop(0)
            other_queue.append(card.situation)
        else:
            situation, card.urgent = queues[slot].pop(0)
            queues[slot].append((situation, card.urgent))
            card.situation = situation
        _dress(card, rng, queues)
        out.append(card)
    extra_rng = random.Random(f"{seed}:{set_name}:extra")
    for field_, situation, urgent in EXTRAS.get(set_name, []):
        out.append(Card(number=len(out) + 1, set=set_name, field=field_, situation=situation,
                        persona=_persona(extra_rng, set_name), urgent=urgent, lang=plan.lang,
                        register=extra_rng.choice(("311 app subject line", "311 app short text",
                                                   "FixMyStreet title and a line")),
                        length=extra_rng.choice(("2-4 words", "5-10 words")),
                        notes="a category and a place, as 311 reports are often written; " + extra_rng.choice(
                            ("set in Ho Chi Minh City", "no place named"))))
    return out


def _dress(card: Card, rng: random.Random, queues: dict[str, list[tuple[str, bool]]]) -> None:
    """Add the set's own instruction to a card."""
    if card.set == "multi_issue" and card.field != "other":
        extra = rng.sample([f for f in FIELDS if f != card.field], rng.choice((1, 1, 2)))
        card.also = extra
        parts = []
        for f in extra:
            # A second problem is never the urgent one: an immediate hazard would be the one to route first.
            situation, urgent = queues[f].pop(0)
            while urgent:
                queues[f].append((situation, urgent))
                situation, urgent = queues[f].pop(0)
            queues[f].append((situation, urgent))
            parts.append(f"{f}: {situation}")
        why = "it is an immediate hazard" if card.urgent else rng.choice(
            ("the writer asks for it to be fixed first", "the writer spends most words on it"))
        card.notes = "also mention " + "; ".join(parts) + f". Route first: {card.field}, because {why}."
    elif card.set == "multi_issue":
        card.notes = "two things, both out of scope or too vague"
    elif card.set == "regional_vi":
        region = rng.choice(("south", "north"))
        card.persona = card.persona.split(",")[0] + f", {region}ern speaker, " + card.persona.split(", ")[-1]
        card.notes = f"{region}ern everyday words where natural ({REGIONAL_WORDS[region]}); teencode ({TEENCODE})"
    elif card.set == "english_311":
        card.notes = f"311 words: {ENGLISH_311.get(card.field, 'none')}; " + rng.choice(
            ("set in Ho Chi Minh City", "set in Ho Chi Minh City", "no place named"))
    elif card.set == "mixed_vi_en":
        card.notes = rng.choice(MIX_LEVELS)
    elif card.set == "address_heavy":
        card.notes = "dominated by " + ", ".join(rng.sample(IDENTIFIERS, rng.choice((2, 3, 4))))
    elif card.set == "sms_terse":
        card.notes = "no punctuation, shorthand"
    elif card.set == "rambling":
        card.notes = rng.choice(("a detour about family", "history of the street", "complains about the city in "
                                 "general first", "emotions before facts", "story of earlier reports"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=SETS, required=True)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--jsonl", action="store_true")
    args = parser.parse_args(argv)
    for card in cards(args.set, args.seed):
        if args.jsonl:
            print(json.dumps(asdict(card), ensure_ascii=False))
            continue
        also = f" (+ {', '.join(card.also)})" if card.also else ""
        print(f"#{card.number} {card.field}{also}{' URGENT' if card.urgent else ''} [{card.lang}]\n"
              f"  situation: {card.situation}\n  persona:   {card.persona}\n"
              f"  register:  {card.register}, {card.length}\n  notes:     {card.notes}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
