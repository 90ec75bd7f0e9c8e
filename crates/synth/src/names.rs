//! Small built-in name lists for synthetic participants, by broad naming tradition.
//!
//! Common names only, combined at random: a generated name is not meant to match anyone, and
//! nothing here is calibration (the names never leave ingest).

/// Female first names, male first names, surnames.
pub(crate) struct Pool {
    pub female: &'static [&'static str],
    pub male: &'static [&'static str],
    pub surnames: &'static [&'static str],
}

const BRITISH: Pool = Pool {
    female: &[
        "Amy", "Chloe", "Emma", "Gemma", "Hannah", "Jade", "Jessica", "Karen", "Kelly", "Laura",
        "Lisa", "Lucy", "Megan", "Michelle", "Nicola", "Rachel", "Sarah", "Sophie", "Stacey",
        "Tracey", "Victoria", "Zoe", "Paige", "Leanne", "Donna", "Julie", "Amber", "Ellie",
    ],
    male: &[
        "Adam", "Ben", "Callum", "Craig", "Daniel", "Darren", "Dean", "Gary", "Jack", "James",
        "Jamie", "Jordan", "Kyle", "Lee", "Liam", "Luke", "Mark", "Matthew", "Paul", "Ryan",
        "Scott", "Shane", "Steven", "Thomas", "Wayne", "Connor", "Josh", "Kieran",
    ],
    surnames: &[
        "Allen",
        "Bailey",
        "Baker",
        "Bennett",
        "Brooks",
        "Carter",
        "Clarke",
        "Cooper",
        "Davies",
        "Edwards",
        "Evans",
        "Green",
        "Griffiths",
        "Hall",
        "Harris",
        "Hughes",
        "Jackson",
        "Johnson",
        "Jones",
        "Lewis",
        "Marshall",
        "Mason",
        "Morris",
        "Parker",
        "Phillips",
        "Price",
        "Roberts",
        "Robinson",
        "Shaw",
        "Smith",
        "Taylor",
        "Turner",
        "Walker",
        "Ward",
        "Webb",
        "White",
        "Wood",
        "Wright",
        "Young",
        "Holloway",
        "Cartwright",
        "Bradley",
    ],
};

const IRISH: Pool = Pool {
    female: &[
        "Aoife", "Ciara", "Niamh", "Siobhan", "Roisin", "Orla", "Grainne", "Maeve", "Sinead",
        "Bridget",
    ],
    male: &[
        "Ciaran", "Declan", "Eoin", "Padraig", "Sean", "Niall", "Conor", "Cormac", "Liam",
        "Darragh",
    ],
    surnames: &[
        "Byrne",
        "Doyle",
        "Gallagher",
        "Kelly",
        "Murphy",
        "O'Brien",
        "O'Connor",
        "Quinn",
        "Ryan",
        "Walsh",
        "McCarthy",
        "Brennan",
    ],
};

const EASTERN_EUROPEAN: Pool = Pool {
    female: &[
        "Agnieszka",
        "Anna",
        "Ewa",
        "Katarzyna",
        "Magdalena",
        "Monika",
        "Ioana",
        "Elena",
        "Daiva",
        "Ilona",
        "Jana",
        "Marta",
    ],
    male: &[
        "Andrzej",
        "Bogdan",
        "Dawid",
        "Krzysztof",
        "Marek",
        "Pawel",
        "Tomasz",
        "Ionut",
        "Mihai",
        "Tomas",
        "Jonas",
        "Petr",
    ],
    surnames: &[
        "Kowalski",
        "Nowak",
        "Wisniewski",
        "Wojcik",
        "Kaminski",
        "Lewandowski",
        "Popescu",
        "Ionescu",
        "Kazlauskas",
        "Novak",
        "Horvath",
        "Dvorak",
    ],
};

const SOUTH_ASIAN_MUSLIM: Pool = Pool {
    female: &[
        "Aisha", "Amina", "Ayesha", "Fatima", "Hafsa", "Iqra", "Khadija", "Maryam", "Nadia",
        "Nazia", "Rubina", "Saima", "Samina", "Shabana", "Sana", "Zainab", "Yasmin", "Humaira",
        "Rukhsana", "Farzana",
    ],
    male: &[
        "Abdul", "Adnan", "Ahmed", "Ali", "Amir", "Asif", "Bilal", "Faisal", "Hamza", "Haroon",
        "Imran", "Irfan", "Junaid", "Kamran", "Mohammed", "Nadeem", "Omar", "Rizwan", "Tariq",
        "Usman", "Zubair", "Shahid",
    ],
    surnames: &[
        "Ahmed", "Akhtar", "Ali", "Begum", "Bibi", "Butt", "Chaudhry", "Hussain", "Iqbal", "Khan",
        "Mahmood", "Malik", "Mirza", "Rahman", "Rashid", "Riaz", "Shah", "Siddique", "Uddin",
        "Yousaf", "Miah", "Islam",
    ],
};

const INDIAN: Pool = Pool {
    female: &[
        "Anjali",
        "Deepa",
        "Gurpreet",
        "Harpreet",
        "Jaspreet",
        "Kiran",
        "Manjit",
        "Neha",
        "Parminder",
        "Pooja",
        "Priya",
        "Rajinder",
        "Simran",
        "Sunita",
    ],
    male: &[
        "Amarjit",
        "Arjun",
        "Baljit",
        "Deepak",
        "Gurdeep",
        "Harjit",
        "Jaswinder",
        "Kuldip",
        "Manpreet",
        "Rajesh",
        "Ravi",
        "Sandeep",
        "Sukhvinder",
        "Vikram",
    ],
    surnames: &[
        "Bains", "Dhillon", "Gill", "Kaur", "Kumar", "Mistry", "Patel", "Sandhu", "Sharma",
        "Singh", "Sohal", "Virdee", "Bhatti", "Chauhan",
    ],
};

const CHINESE: Pool = Pool {
    female: &["Mei", "Li", "Xiu", "Ying", "Hui", "Jing", "Lan", "Yan"],
    male: &["Wei", "Jun", "Hao", "Ming", "Lei", "Jian", "Tao", "Bo"],
    surnames: &[
        "Chen", "Wang", "Li", "Zhang", "Liu", "Wong", "Cheung", "Lam",
    ],
};

const AFRICAN: Pool = Pool {
    female: &[
        "Abena", "Adaeze", "Amara", "Chiamaka", "Efua", "Fadumo", "Grace", "Hodan", "Ifeoma",
        "Ngozi", "Nia", "Blessing", "Precious", "Chipo",
    ],
    male: &[
        "Abdi", "Chidi", "Emeka", "Kwame", "Kofi", "Mohamed", "Obinna", "Samuel", "Tunde", "Yusuf",
        "Tendai", "Emmanuel", "Olu", "Farah",
    ],
    surnames: &[
        "Adebayo",
        "Asante",
        "Mensah",
        "Okafor",
        "Okonkwo",
        "Osei",
        "Abdullahi",
        "Ali",
        "Hassan",
        "Mohamud",
        "Moyo",
        "Nwosu",
        "Owusu",
        "Warsame",
    ],
};

const CARIBBEAN: Pool = Pool {
    female: &[
        "Andrea",
        "Beverley",
        "Carleen",
        "Chantelle",
        "Jasmine",
        "Keisha",
        "Marcia",
        "Shanice",
        "Tanisha",
        "Yvonne",
        "Simone",
        "Natalie",
    ],
    male: &[
        "Andre", "Clive", "Delroy", "Dwayne", "Errol", "Jermaine", "Leon", "Marlon", "Tyrone",
        "Winston", "Courtney", "Trevor",
    ],
    surnames: &[
        "Brown", "Campbell", "Clarke", "Francis", "Grant", "Henry", "Lewis", "McKenzie", "Reid",
        "Richards", "Thompson", "Williams", "Bryan", "Gayle",
    ],
};

const ARAB: Pool = Pool {
    female: &[
        "Layla", "Mariam", "Noor", "Rania", "Salma", "Huda", "Dalia", "Reem",
    ],
    male: &[
        "Ahmad", "Hassan", "Karim", "Khalid", "Mahmoud", "Omar", "Samir", "Yasser",
    ],
    surnames: &[
        "Abbas",
        "Al-Hashimi",
        "Haddad",
        "Hamdan",
        "Mansour",
        "Nasser",
        "Saleh",
        "Suleiman",
    ],
};

const WORLD: Pool = Pool {
    female: &[
        "Ana", "Maria", "Sofia", "Leila", "Dina", "Rosa", "Mina", "Tara",
    ],
    male: &[
        "Carlos", "Luis", "Ivan", "Reza", "Dario", "Nikos", "Ali", "Jose",
    ],
    surnames: &[
        "Silva",
        "Santos",
        "Ferreira",
        "Ahmadi",
        "Rostami",
        "Papadopoulos",
        "Garcia",
        "Rossi",
    ],
};

/// The pool for a latent ethnicity code (ONS 2011 categories of the contract).
pub(crate) fn pool_for(ethnicity: Option<&str>, coin: bool) -> &'static Pool {
    match ethnicity.unwrap_or("W1") {
        "W2" => &IRISH,
        "W4" => &EASTERN_EUROPEAN,
        "A1" => &INDIAN,
        "A2" | "A3" | "A5" => &SOUTH_ASIAN_MUSLIM,
        "A4" => &CHINESE,
        "B1" => &AFRICAN,
        "B2" | "B3" => &CARIBBEAN,
        "M1" => {
            if coin {
                &CARIBBEAN
            } else {
                &BRITISH
            }
        }
        "M2" => {
            if coin {
                &AFRICAN
            } else {
                &BRITISH
            }
        }
        "M3" => {
            if coin {
                &SOUTH_ASIAN_MUSLIM
            } else {
                &BRITISH
            }
        }
        "O1" => &ARAB,
        "O2" => &WORLD,
        _ => &BRITISH,
    }
}
