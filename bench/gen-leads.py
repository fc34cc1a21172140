#!/usr/bin/env python3
"""Write N synthetic leads as CSV (header: phone,name,email,priority,tags).

Usage: python3 bench/gen-leads.py N OUT.csv [SEED]

Phones are unique, US-style E.164 (+1 AAA SSSSSSS) over several area codes, with 7-digit
subscriber numbers starting 2-9. Uniqueness is by construction: row i gets area code
a = i % len(AREAS) and subscriber 2_000_000 + (k * STRIDE + offset[a]) mod 8_000_000 with
k = i // len(AREAS) and offset[a] a per-area random start. STRIDE is coprime to 8_000_000,
so k -> subscriber is a bijection within each area code and no two rows share a number
while N <= len(AREAS) * 8_000_000.
Standard library only; the output is deterministic for a given N and SEED.
"""

import csv
import random
import sys

AREAS = ["212", "310", "415", "617", "646", "718", "917", "305", "312", "206"]
SUBSCRIBERS = 8_000_000  # 2000000..9999999
STRIDE = 7_919  # prime, coprime to 8_000_000 = 2^9 * 5^6

FIRST = [
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas",
    "Sarah", "Carlos", "Karen", "Daniel", "Lisa", "Matthew", "Nancy", "Anthony", "Betty",
    "Mark", "Sandra", "Wei", "Ashley", "Steven", "Kimberly", "Paul", "Emily", "Andrew",
    "Donna", "Joshua", "Michelle", "Kenji", "Carol", "Priya", "Amanda", "Omar", "Melissa",
]
LAST = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
    "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson",
    "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White",
    "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young",
    "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green",
]
DOMAINS = ["example.com", "example.org", "example.net", "mail.example.com"]
PRIORITIES = ["urgent", "high", "medium", "low"]
PRIORITY_WEIGHTS = [5, 20, 50, 25]
TAGS = ["webinar", "trade-show", "referral", "cold", "inbound", "newsletter", "partner", "ads"]


def main() -> int:
    if len(sys.argv) not in (3, 4):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    n = int(sys.argv[1])
    out = sys.argv[2]
    seed = int(sys.argv[3]) if len(sys.argv) == 4 else 42
    if n < 0 or n > len(AREAS) * SUBSCRIBERS:
        print(f"N must be between 0 and {len(AREAS) * SUBSCRIBERS}", file=sys.stderr)
        return 2
    rng = random.Random(seed)
    offsets = [rng.randrange(SUBSCRIBERS) for _ in AREAS]
    areas = len(AREAS)
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["phone", "name", "email", "priority", "tags"])
        batch = []
        for i in range(n):
            k, a = divmod(i, areas)
            sub = 2_000_000 + (k * STRIDE + offsets[a]) % SUBSCRIBERS
            first = rng.choice(FIRST)
            last = rng.choice(LAST)
            batch.append(
                (
                    f"+1{AREAS[a]}{sub}",
                    f"{first} {last}",
                    f"{first.lower()}.{last.lower()}{i}@{rng.choice(DOMAINS)}",
                    rng.choices(PRIORITIES, PRIORITY_WEIGHTS)[0],
                    rng.choice(TAGS),
                )
            )
            if len(batch) == 10_000:
                w.writerows(batch)
                batch.clear()
        w.writerows(batch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
