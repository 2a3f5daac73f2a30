import { describe, expect, it } from "vitest";
import type { DetectorName } from "../rulesets/model.js";
import { DETECTORS, ibanChecksumValid, luhnValid, nhsChecksumValid } from "./detectors.js";

function detect(name: DetectorName, text: string): string[] {
  const found: string[] = [];
  DETECTORS[name](text, (start, end) => found.push(text.slice(start, end)));
  return found;
}

/** Appends the Luhn check digit to `body`. */
function withLuhnDigit(body: string): string {
  for (let d = 0; d <= 9; d++) if (luhnValid(body + d)) return body + d;
  throw new Error("unreachable");
}

describe("email", () => {
  it("finds addresses in prose, lists and markup", () => {
    const text =
      'Write to jane.doe@example.com or <j.smith+news@mail.co.uk>; cc: "ops-team@corp.example.org".';
    expect(detect("email", text)).toEqual([
      "jane.doe@example.com",
      "j.smith+news@mail.co.uk",
      "ops-team@corp.example.org",
    ]);
  });
  it("takes in Latin letters beyond ASCII and a name's apostrophe, not a quote or CJK text", () => {
    const text =
      "Kontakt: jürgen.müller@firma.de, info@bücher.de, josé@exämple.es; j.o'neil@example.ie";
    expect(detect("email", text)).toEqual([
      "jürgen.müller@firma.de",
      "info@bücher.de",
      "josé@exämple.es",
      "j.o'neil@example.ie",
    ]);
    // A quote opens a value; CJK prose runs into an address without a space.
    expect(
      detect("email", "email='ann@example.com', 'o''brien@example.ie' 请联系info@example.cn"),
    ).toEqual(["ann@example.com", "brien@example.ie", "info@example.cn"]);
    // A string literal's prefix (SQL Server's N'', Python's u'') or an elided article is no name's.
    expect(
      detect("email", "VALUES (N'bob@example.com'); u'eve@example.com'; à l'adresse@example.fr"),
    ).toEqual(["bob@example.com", "eve@example.com", "adresse@example.fr"]);
  });

  it("ignores message identifiers in mail headers and git's SSH remotes", () => {
    const mail = [
      "From: Jane Doe <jane.doe@example.com>",
      "Message-ID: <20240115103000.1234.5678@mx.example.com>",
      "In-Reply-To: <5f3a9c@mx.google.com>",
      "References: <abc.def@lists.example.org>",
      "\t<ghi.jkl@lists.example.org>",
      "To: bob@example.org",
      "",
      "git clone git@github.com:acme/widgets.git, or ask git@example.com: it is a mailbox",
    ].join("\n");
    expect(detect("email", mail)).toEqual([
      "jane.doe@example.com",
      "bob@example.org",
      "git@example.com",
    ]);
    // An identifier folded onto the next line, as some mailers write it.
    expect(
      detect("email", "Message-ID:\r\n <20240115.1234@mx.example.com>\r\nTo: a@example.org"),
    ).toEqual(["a@example.org"]);
    // A `references:` key that holds no message identifiers is no mail header.
    expect(detect("email", "references:\n  author: alice@example.com")).toEqual([
      "alice@example.com",
    ]);
  });

  it("ignores the user and password of a URL, which are no mailbox", () => {
    const text =
      "DATABASE_URL=postgres://app:s3cr3t@db.internal:5432/app and https://deploy@git.example.com/x; mail ops@example.com";
    expect(detect("email", text)).toEqual(["ops@example.com"]);
    // A URL earlier in compact JSON or CSV changes nothing for the address after it.
    expect(detect("email", '{"website":"https://acme.com","email":"ada@acme.com"}')).toEqual([
      "ada@acme.com",
    ]);
    expect(detect("email", "https://acme.com/contact,ada@acme.com")).toEqual(["ada@acme.com"]);
  });

  it("ignores decorators, scoped packages, versions and retina assets", () => {
    const text =
      "import x from '@types/node'; npm i left-pad@1.3.0; <img src='logo@2x.png'>; @Component({}) user@localhost";
    expect(detect("email", text)).toEqual([]);
    const assets =
      "logo@2x.avif Inter@1.ttf hero@2x.pdf hero@2x.heic icons@2.woff2 icons@2.eot intro@720p.webm intro@hd.mov";
    expect(detect("email", assets)).toEqual([]);
  });

  it("takes the login of a remote shell or copy for no address, not an address mailed beside it", () => {
    const text = [
      "ssh -i key.pem ec2-user@ec2-54-12-34-56.compute-1.amazonaws.com",
      "rsync -az dist/ www-data@web01.prod.example.net:/srv/app",
      "scp report.pdf deploy@build01.internal.example.com:/tmp; mail ops@example.com",
      "(sshd accepted key for jane.doe@example.com)",
    ].join("\n");
    expect(detect("email", text)).toEqual(["ops@example.com", "jane.doe@example.com"]);
  });

  it("ignores systemd units and file names, not the address beside them", () => {
    const text =
      "Started getty@tty1.service; openvpn@client.socket; rabbit@localhost.log saved as icons-64x64@2.tar, mail ops@tty1.services";
    expect(detect("email", text)).toEqual(["ops@tty1.services"]);
  });
});

describe("phone", () => {
  const valid = [
    "+44 20 7946 0958",
    "+1 (555) 123-4567",
    "+33 1 23 45 67 89",
    "+4915112345678",
    "+44 (0)20 7946 0958",
    "020 7946 0958",
    "07700 900123",
    "01 23 45 67 89",
    "(555) 123-4567",
    "555-123-4567",
    "555.123.4567",
    "1-800-555-0199",
    "0044 20 7946 0958",
    "07700900123",
  ];
  it.each(valid)("detects %s", (number) => {
    expect(detect("phone", `Call ${number} today.`)).toEqual([number]);
  });

  const invalid = [
    "2024-01-15 10:30:00",
    "1700000000123",
    "123e4567-e89b-12d3-a456-426614174000",
    "192.168.100.200",
    "4111 1111 1111 1111",
    "v1.22.333",
    "order 12345678",
    "123-45-6789",
    "2024.01.15",
    "00447700900123",
    "02079460958",
    "12345678901",
  ];
  it.each(invalid)("does not report %s", (text) => {
    expect(detect("phone", `value ${text} end`)).toEqual([]);
  });
  it("ignores hex dumps' bytes, sums in minified code, signed decimals and SVG coordinates", () => {
    // A national number's trunk prefix is one 0; `00` dials abroad.
    expect(
      detect("phone", "<Buffer 00 00 00 00 00> bytes 000 014 000 000 n: 13,178,002.113936031"),
    ).toEqual([]);
    expect(detect("phone", "Appelez le 01 23 45 67 89 ou le 0044 20 7946 0958")).toEqual([
      "01 23 45 67 89",
      "0044 20 7946 0958",
    ]);
    // `+` after a closing bracket adds; after a space or an opening bracket it dials.
    expect(detect("phone", "z(1,(c&1048575)+1072079006|0);f=(c-e|0)+2147418112|0")).toEqual([]);
    expect(detect("phone", "tel (+4915112345678), call +4915112345678")).toEqual([
      "+4915112345678",
      "+4915112345678",
    ]);
    expect(detect("phone", "Decimal('+35236450.6') lat +51.5074123")).toEqual([]);
    // WHOIS's and EPP's `+CC.number` is a phone, not a decimal.
    expect(detect("phone", "Registrant Phone: +1.4155552671, Tech Phone: +44.2079460958")).toEqual([
      "+1.4155552671",
      "+44.2079460958",
    ]);
    expect(detect("phone", "+33.1.23.45.67.89")).toEqual(["+33.1.23.45.67.89"]);
    // Dots do not mix with spaces; an SVG shape's points are no number.
    const svg = '<polygon points="1040,277.764 1035,267.764 1040,270.264 1045,267.764 "/>';
    expect(detect("phone", svg)).toEqual([]);
    expect(detect("phone", `${svg} <text>Call 555.123.4567 or 555 123 4567</text>`)).toEqual([
      "555.123.4567",
      "555 123 4567",
    ]);
  });
  it("takes a bare national number for a phone number right after tel:", () => {
    expect(detect("phone", '<a href="tel:02079460958">call</a> id 02079460958')).toEqual([
      "02079460958",
    ]);
  });
  it("takes a trunk prefix in brackets, nine-digit national numbers and a German area code's slash", () => {
    const text =
      "T: (0)20 7946 0958; Dublin 01 234 5678, Wien 01 234 5678, Bruxelles 02 123 45 67; " +
      "Tel.: 030/12345678, Mobil 0171 / 123 4567, GSM 0470/12.34.56";
    expect(detect("phone", text)).toEqual([
      "(0)20 7946 0958",
      "01 234 5678",
      "01 234 5678",
      "02 123 45 67",
      "030/12345678",
      "0171 / 123 4567",
      "0470/12.34.56",
    ]);
    // Dates, paths and a second slash are no area code's; a trunk prefix alone is no group; nine
    // digits in two groups are a US ZIP+4 code.
    expect(
      detect(
        "phone",
        "on 01/12/2023 10:30, 12/03/1985, /files/0123/4567890, 0123//4567890, 012/345/6789, (0)1 2 3, 0 123 456 789, Boston, MA 02110-1301, " +
          "values 05 10 15 200, col 01 23 45 678 x, 012 345 678, 010.020.030, Rechnung Nr. 0815/2024-001, Az. 012/2024 12345, Schicht 0800/1200 1330 Uhr",
      ),
    ).toEqual([]);
  });
});

describe("one value, one finding", () => {
  it("takes no phone number out of an IBAN's digits", () => {
    const text = "Rekening NL91 ABNA 0417 1643 00, bel 0417 1643 00";
    const at: number[] = [];
    DETECTORS.phone(text, (start) => at.push(start));
    // Only the number after `bel`, not the same digits inside the IBAN.
    expect(at).toEqual([text.lastIndexOf("0417")]);
    expect(detect("iban", text)).toEqual(["NL91 ABNA 0417 1643 00"]);
  });
});

describe("payment_card", () => {
  it("takes no EAN-13 barcode for a 13-digit Visa or Maestro card", () => {
    // Each passes the Luhn check: a barcode's check digit is not Luhn's, but one in ten agrees.
    const barcodes = ["4031007728372", "6985945266985", "5758099326116"].filter((code) =>
      luhnValid(code),
    );
    expect(barcodes).toHaveLength(3);
    expect(detect("payment_card", barcodes.map((code) => `SKU-1,${code},Item`).join("\n"))).toEqual(
      [],
    );
    expect(detect("payment_card", "maestro 6759 6498 2643 8453")).toEqual(["6759 6498 2643 8453"]);
  });
  it("detects cards with a valid Luhn sum and issuer prefix in common formats", () => {
    const text = [
      "visa 4111 1111 1111 1111",
      "dashes 4111-1111-1111-1111",
      "bare 4111111111111111",
      "mc 5500 0000 0000 0004",
      "amex 3782 822463 10005",
      "discover 6011 1111 1111 1117",
      "diners 3056 930902 5904",
    ].join("\n");
    expect(detect("payment_card", text)).toEqual([
      "4111 1111 1111 1111",
      "4111-1111-1111-1111",
      "4111111111111111",
      "5500 0000 0000 0004",
      "3782 822463 10005",
      "6011 1111 1111 1117",
      "3056 930902 5904",
    ]);
  });

  it("rejects a wrong check digit, an unknown issuer, mixed separators and longer numbers", () => {
    const unknownIssuer = withLuhnDigit("912345678901234");
    const text = `bad 4111 1111 1111 1112; issuer ${unknownIssuer}; mixed 4111 1111-1111 1111; id 41111111111111110000000`;
    expect(detect("payment_card", text)).toEqual([]);
  });

  it("takes a bare number after an id's label for an id, a grouped one for a card", () => {
    const text = [
      "request_id=4532015112830366",
      '{"id": "4532015112830366", "order ID": 4532015112830366}',
      "txn id 4532015112830366",
      "paid 4532015112830366",
      "card_id: 4532 0151 1283 0366",
      // A word ending in 'id' whose last letters the look-back starts at is no label.
      "paid          4532015112830366",
    ].join("\n");
    expect(detect("payment_card", text)).toEqual([
      "4532015112830366",
      "4532 0151 1283 0366",
      "4532015112830366",
    ]);
  });
});

describe("iban", () => {
  it("detects IBANs of several countries, grouped or compact", () => {
    const text =
      "GB82 WEST 1234 5698 7654 32, DE89370400440532013000 and FR14 2004 1010 0505 0001 3M02 606; NL91ABNA0417164300.";
    expect(detect("iban", text)).toEqual([
      "GB82 WEST 1234 5698 7654 32",
      "DE89370400440532013000",
      "FR14 2004 1010 0505 0001 3M02 606",
      "NL91ABNA0417164300",
    ]);
  });

  it("rejects a wrong check, a wrong length and unknown countries", () => {
    expect(
      detect(
        "iban",
        "GB83 WEST 1234 5698 7654 32 / GB82 WEST 1234 5698 7654 / QQ82WEST12345698765432",
      ),
    ).toEqual([]);
    expect(ibanChecksumValid("GB82WEST12345698765432")).toBe(true);
  });

  it("detects an IBAN in lower or mixed case only after an IBAN label", () => {
    const text = [
      "iban: de89 3704 0044 0532 0130 00",
      "IBAN gb82west12345698765432",
      "iban_number=Nl91abna0417164300",
      "IBAN no. fr14 2004 1010 0505 0001 3m02 606",
    ].join("\n");
    expect(detect("iban", text)).toEqual([
      "de89 3704 0044 0532 0130 00",
      "gb82west12345698765432",
      "Nl91abna0417164300",
      "fr14 2004 1010 0505 0001 3m02 606",
    ]);
    // Unlabelled lower case is left alone (hex and ids look alike); a label does not fix a bad check.
    expect(detect("iban", "ref de89370400440532013000, iban: de89 3704 0044 0532 0130 01")).toEqual(
      [],
    );
  });
});

describe("uk_nino", () => {
  it("detects valid prefixes, compact or spaced", () => {
    expect(
      detect("uk_nino", "NINO AB123456C, spaced: JG 10 37 52 D, printed: AB 123456 C."),
    ).toEqual(["AB123456C", "JG 10 37 52 D", "AB 123456 C"]);
    expect(detect("uk_nino", "AB 1234 56 C")).toEqual([]);
  });
  it("rejects never-issued prefixes, bad suffixes and embedded codes", () => {
    expect(detect("uk_nino", "GB123456A DA123456A AB123456E XAB123456C")).toEqual([]);
  });
});

describe("us_ssn", () => {
  it("detects separated SSNs with valid area, group and serial", () => {
    expect(detect("us_ssn", "SSN: 123-45-6789 or 078 05 1121")).toEqual([
      "123-45-6789",
      "078 05 1121",
    ]);
  });
  it("rejects unissued numbers and bare digits", () => {
    expect(
      detect(
        "us_ssn",
        "000-12-3456 666-12-3456 912-34-5678 123-00-4567 123-45-0000 123456789 123-45 6789",
      ),
    ).toEqual([]);
  });
  it("detects nine bare digits right after an SSN label, as databases and forms keep them", () => {
    expect(
      detect(
        "us_ssn",
        "ssn: 219099999\nSSN#219099998 user_ssn='078051121' Social Security No. 536902345 " +
          '"social_security_number": "536902346" SOCIAL SECURITY NUMBER 536902347',
      ),
    ).toEqual(["219099999", "219099998", "078051121", "536902345", "536902346", "536902347"]);
  });
  it("detects the bare SSNs of a table's SSN column", () => {
    const csv =
      'name,ssn,state\nJane Roe,219099999,CA\nJohn Roe,666123456,NY\nAda,"078051121",WA\n';
    expect(detect("us_ssn", csv)).toEqual(["219099999", "078051121"]);
    const tsv = "id\tSocial Security Number\n7\t536902345\n";
    expect(detect("us_ssn", tsv)).toEqual(["536902345"]);
    // A column that merely mentions one, or a number column beside it, is no SSN column.
    expect(detect("us_ssn", "id,ssn_verified,amount\n1,219099999,536902345\n")).toEqual([]);
  });
  it("takes no bare digits without a label right before them, nor unissued ones", () => {
    expect(
      detect(
        "us_ssn",
        "SSN verified for request 219099999; classname: 219099999; SSNs: 219099999; " +
          "ssn: 2190999991; ssn: 21909999; ssn: 666123456; ssn: 900123456; ssn: 219000999; " +
          "ssn: 219-09-9999.5; ssn=219099999.1; order 219099999",
      ),
    ).toEqual([]);
  });
});

describe("nhs_number", () => {
  it("detects numbers with a valid modulus 11 check digit", () => {
    expect(detect("nhs_number", "NHS no. 943-476-5919; patient 943 476 5919")).toEqual([
      "943-476-5919",
      "943 476 5919",
    ]);
    expect(nhsChecksumValid("9434765919")).toBe(true);
  });
  it("rejects a wrong check digit, and bare ten-digit runs without an NHS label", () => {
    expect(detect("nhs_number", "943 476 5918 and 9434765919")).toEqual([]);
    expect(detect("nhs_number", "NHS number: 9434765919, nhs_number='4010232137'")).toEqual([
      "9434765919",
      "4010232137",
    ]);
  });
  it("takes phone-shaped numbers for NHS numbers only after an NHS label", () => {
    // Both pass modulus 11: a North American and a New Zealand phone number.
    expect(nhsChecksumValid("2012377637")).toBe(true);
    expect(nhsChecksumValid("0211234567")).toBe(true);
    expect(detect("nhs_number", "Alice,201-237-7637\nBob,021 123 4567")).toEqual([]);
    expect(detect("phone", "Alice,201-237-7637")).toEqual(["201-237-7637"]);
    expect(detect("nhs_number", "NHS: 201-237-7637")).toEqual(["201-237-7637"]);
  });
  it("leaves a number an NHS label names to itself: it is not also a phone number", () => {
    const text = "NHS no. 943 476 5919, tel. 943 476 5918";
    expect(detect("nhs_number", text)).toEqual(["943 476 5919"]);
    expect(detect("phone", text)).toEqual(["943 476 5918"]);
    // Unlabelled, a spaced number that passes modulus 11 may be either: it is reported as both.
    expect(detect("phone", "Call 943 476 5919")).toEqual(["943 476 5919"]);
    expect(detect("nhs_number", "Call 943 476 5919")).toEqual(["943 476 5919"]);
  });
  it("rejects phone numbers that pass modulus 11 (a country code before them) and one-digit runs", () => {
    // 415 555 2671 passes the check: after +1 it is a phone number.
    expect(nhsChecksumValid("4155552671")).toBe(true);
    expect(
      detect("nhs_number", "+1 415 555 2671, (+44) 415-555-2671, 000 000 0000, 111 111 1111"),
    ).toEqual([]);
    expect(detect("nhs_number", "NHS 415 555 2671")).toEqual(["415 555 2671"]);
  });
});

describe("values right after a label", () => {
  it("are found after a label's ':', but not after '/' or as the continuation of another number", () => {
    const card = withLuhnDigit("411111111111111");
    // After a path's '/', a long number is an id: only a label's ':' is let through.
    expect(detect("payment_card", `card:${card} /orders/${card} 12:${card}`)).toEqual([card]);
    expect(detect("phone", '<a href="tel:+442079460958">call</a> x:07700 900123')).toEqual([
      "+442079460958",
      "07700 900123",
    ]);
    expect(detect("us_ssn", "ssn:219-09-9999 and 5:219-09-9999")).toEqual(["219-09-9999"]);
    expect(detect("nhs_number", "nhs:943 476 5919")).toEqual(["943 476 5919"]);
  });
});

describe("us_ssn and nhs_number together", () => {
  it("find their own numbers in one text, and neither inside a longer run of groups", () => {
    const text =
      "SSN 123-45-6789, NHS 943 476 5919; 123-45-6789-943-476-5919; 943-476-5919-123-45-6789";
    expect(detect("us_ssn", text)).toEqual(["123-45-6789"]);
    expect(detect("nhs_number", text)).toEqual(["943 476 5919"]);
    // The same text again, each detector first: neither depends on the other having run.
    expect(detect("nhs_number", `${text} `)).toEqual(["943 476 5919"]);
    expect(detect("us_ssn", `${text}  `)).toEqual(["123-45-6789"]);
  });
});

describe("date_of_birth", () => {
  it("detects dates written after a birth keyword", () => {
    const text = [
      "Date of birth: 12/03/1985",
      "DOB 1985-03-12",
      "born on 3rd March 1985",
      "Birthday: March 3, 1985",
      "date_of_birth=1990.07.21",
    ].join("\n");
    expect(detect("date_of_birth", text)).toEqual([
      "12/03/1985",
      "1985-03-12",
      "3rd March 1985",
      "March 3, 1985",
      "1990.07.21",
    ]);
  });
  it("reads a two-digit year as forms write it, after a keyword or in a birth column", () => {
    const form = "Name: Robert Jones   DOB: 12/03/85\nNext of kin: Mary Jones, born 02-08-58.";
    expect(detect("date_of_birth", form)).toEqual(["12/03/85", "02-08-58"]);
    expect(detect("date_of_birth", "name,dob\nbob,7/21/04\nann,31.12.99\n")).toEqual([
      "7/21/04",
      "31.12.99",
    ]);
    // One separator, a year of two digits that ends there, a real day and month.
    expect(
      detect("date_of_birth", "DOB: 12/03-85; dob 12/03/853; born 30/02/85; dob 1.2.33.4"),
    ).toEqual([]);
  });
  it("finds the dates of a table's birth column, row after row, and not a birth place's", () => {
    const csv = [
      "customer_id;name;date_of_birth;created_at",
      "1;Jane Roe;1985-03-12;2024-01-15",
      '2;"John Smith";"12/03/1990";2024-01-16',
      "3;Ann Lee;;2024-01-17",
      "4;Bo;not known;1999-09-09",
    ].join("\n");
    expect(detect("date_of_birth", csv)).toEqual(["1985-03-12", "12/03/1990"]);
    expect(detect("date_of_birth", "id,birth_place,signup\n1,Leeds,2001-05-04")).toEqual([]);
    expect(detect("date_of_birth", '{"birth_place":"Leeds","created_at":"2004-01-15"}')).toEqual(
      [],
    );
    expect(detect("date_of_birth", "Place of birth: Leeds, 2004-01-15")).toEqual([]);
    // The keyword's own date is the year; a later date is another event's.
    expect(detect("date_of_birth", "Born in 1985, moved to London on 12/03/2001")).toEqual([]);
    expect(detect("date_of_birth", "born in Leeds on 12/03/1985")).toEqual(["12/03/1985"]);
    // A number between them that is no year: the keyword's date it is.
    expect(detect("date_of_birth", "Date of birth (ISO 8601): 1985-03-12")).toEqual(["1985-03-12"]);
    // Only a whole header cell names the column, and only rows of the header's shape are read.
    expect(detect("date_of_birth", "Adobe, Inc. release notes\n2023-05-01, CC 2023")).toEqual([]);
    expect(detect("date_of_birth", "id,stubborn_bug,fixed\n1,2023-05-01,no")).toEqual([]);
    expect(
      detect(
        "date_of_birth",
        'id,name,signup,DOB\r\n1,"Roe, Jane",2024-01-15,1985-03-12\r\n2,Bo,2024-01-16,1990-07-21',
      ),
    ).toEqual(["1990-07-21"]);
    expect(detect("date_of_birth", "id|patient_dob|DOB (dd/mm/yyyy)\n1|1985-03-02|x")).toEqual([
      "1985-03-02",
    ]);
    // A header in German, French, Spanish, Italian, Dutch, Polish or a Nordic language.
    expect(detect("date_of_birth", "id;name;Geburtsdatum;ort\n1;Jan;12.03.1985;Berlin")).toEqual([
      "12.03.1985",
    ]);
    expect(detect("date_of_birth", "nom,date de naissance\nJean,12/03/1985\n")).toEqual([
      "12/03/1985",
    ]);
    expect(detect("date_of_birth", "namn\tfödelsedatum\nEva\t1985-03-12\n")).toEqual([
      "1985-03-12",
    ]);
    expect(detect("date_of_birth", "id,geburtsort,datum\n1,Berlin,12.03.1985")).toEqual([]);
    // A date on the first line that only looks like a header is still found.
    expect(detect("date_of_birth", "Date of Birth,1985-03-02\nName,Bob\n")).toEqual(["1985-03-02"]);
    // A table of many rows, one by one.
    const rows = `name,dob\n${"bob,1990-01-01\n".repeat(150_000)}`;
    expect(detect("date_of_birth", rows)).toHaveLength(150_000);
  });
  it("ignores a file's birth time, as stat reports it, and keeps a person's", () => {
    const stat =
      "birthtime: 2019-06-22T03:28:46.937Z, birthtimeMs: 1561174126937, st_birthtime: Mon, 10 Oct 2011";
    expect(detect("date_of_birth", stat)).toEqual([]);
    expect(
      detect("date_of_birth", 'birthDate: "1985-03-12T00:00:00.000Z", birth time 12/03/1985'),
    ).toEqual(["1985-03-12", "12/03/1985"]);
    // FHIR's and CDA's `birthTime` is a patient's.
    expect(detect("date_of_birth", '"patient-birthTime", "valueDateTime": "2019-03-12"')).toEqual([
      "2019-03-12",
    ]);
  });
  it("ignores a date picker's or a schema's bounds after a birth keyword", () => {
    const html =
      '<input type="date" id="dob" name="dob" min="1900-01-01" max="2010-12-31">\n' +
      "birthDate: { type: Date, minDate: '1900-01-01' }, dob_max=2010-12-31";
    expect(detect("date_of_birth", html)).toEqual([]);
    // A field whose name ends in min or max, or a value beside them, is a date.
    expect(
      detect("date_of_birth", 'dob="1985-03-12" min="1900-01-01"; DOB admin: 1990-07-21'),
    ).toEqual(["1985-03-12", "1990-07-21"]);
  });
  it("ignores dates without a keyword, future years and impossible dates", () => {
    expect(
      detect("date_of_birth", "Released 12/03/1985. DOB: 12/03/2999. Birthday 45/13/1985."),
    ).toEqual([]);
    // No 31 February in either reading; 29 February only in a leap year.
    expect(detect("date_of_birth", "born 31/02/1985, born 29/02/1985, born 29/02/1984")).toEqual([
      "29/02/1984",
    ]);
  });
});

describe("ipv4", () => {
  it("detects addresses", () => {
    expect(detect("ipv4", "Client 203.0.113.42 connected via 10.0.0.1:8080")).toEqual([
      "203.0.113.42",
      "10.0.0.1",
    ]);
  });
  it("ignores versions, out-of-range octets and longer dotted numbers", () => {
    expect(
      detect(
        "ipv4",
        'version 1.2.3.4, "version": "4.3.2.1", v10.0.0.1, [assembly: AssemblyVersion("1.0.0.0")] 999.1.1.1 1.2.3.4.5 01.02.03.04',
      ),
    ).toEqual([]);
    expect(
      detect(
        "ipv4",
        "__version__ = '4.0.2.1' <version>3.1.0.2</version> firmware 2.0.1.5 snmp oid 1.3.6.1",
      ),
    ).toEqual([]);
  });
  it("ignores products' versions, as in user agents, and finds the client's address beside them", () => {
    const line =
      '203.0.113.9 - - [15/Jan/2024:10:30:00 +0000] "GET / HTTP/1.1" 200 "Mozilla/5.0 (X11; Linux x86_64) Chrome/119.0.0.0 Safari/537.36" nginx/1.25.3.1 gcc-12.2.0.1 release-2.4.10.3 kernel 5.15.0.91 http://198.51.100.7/';
    expect(detect("ipv4", line)).toEqual(["203.0.113.9", "198.51.100.7"]);
    // After a path segment, a dash or an infrastructure word, an address is an address.
    expect(
      detect(
        "ipv4",
        "GET /api/clients/203.0.113.10 peer-203.0.113.11 node 10.0.0.12 NotReady docker 172.17.0.2",
      ),
    ).toEqual(["203.0.113.10", "203.0.113.11", "10.0.0.12", "172.17.0.2"]);
    // A host and its address; a product after a `:`.
    expect(detect("ipv4", "db01.internal/10.0.0.5:5432 image:nginx/1.25.3.1")).toEqual([
      "10.0.0.5",
    ]);
  });
  it("ignores software versions named in prose, not addresses near a product's name", () => {
    expect(
      detect(
        "ipv4",
        "Git 1.7.12.1 fixed it; update V8 to 4.4.63.30; Python 2.7.18.1 and upgraded from MySQL 5.7.31.1",
      ),
    ).toEqual([]);
    expect(
      detect("ipv4", "git push from 203.0.113.20 failed; java app on 10.0.0.21; Git 2.1.0.1"),
    ).toEqual(["203.0.113.20", "10.0.0.21"]);
    const changelog = [
      "## [2.0.1.3] - 2024-01-10",
      "- Released 2.0.1.2; Upgrade to 4.8.1.2 of the runtime; see versions 1.8.4.2",
      'versionName "2.4.0.1"',
      "### 3.2.1.4 Session handling",
      "Requirement 3.2.1.4, Article 4.1.2.3 and Table 2.1.3.1",
      "libacme-utils (2.4.1.3-1) unstable; urgency=medium",
    ].join("\n");
    expect(detect("ipv4", changelog)).toEqual([]);
    // A commented-out address is an address; so is one the DNS record was updated to.
    expect(
      detect("ipv4", "# 10.0.0.5 db01\nrecord updated to 203.0.113.5 (10.0.0.1-10.0.0.9)"),
    ).toEqual(["10.0.0.5", "203.0.113.5", "10.0.0.1", "10.0.0.9"]);
  });
  it("ignores addresses that name no device: unspecified, loopback, netmasks, CIDR networks", () => {
    expect(
      detect(
        "ipv4",
        "bind 0.0.0.0 and 127.0.0.1, mask 255.255.255.0, allow 10.0.0.0/8 10.1.2.3/32",
      ),
    ).toEqual(["10.1.2.3"]);
  });
  it("ignores section numbers, OIDs and dpkg's package versions", () => {
    const prose = [
      "defined in Section 3.4.1.2, sections '8.2.4.44', [Section 22.1.4.1], § 4.2.2.13",
      "ES6$25.4.5.4",
      'COMMON_NAME = ObjectIdentifier("2.5.4.3")',
      "status installed socat:amd64 1.7.4.4-2 install alsa-topology-conf:all <none> 1.2.5.1-2",
      "Install: socat:amd64 (1.7.4.4-2, automatic)",
    ].join("\n");
    expect(detect("ipv4", prose)).toEqual([]);
    expect(
      detect(
        "ipv4",
        "Section 3.4.1.2: client 203.0.113.7 updated from 203.0.113.8, connected to 203.0.113.9, Admin updated IP to 203.0.113.10",
      ),
    ).toEqual(["203.0.113.7", "203.0.113.8", "203.0.113.9", "203.0.113.10"]);
  });
  it("ignores SVG paths' coordinates and manuals' heading numbers, not addresses in markup", () => {
    const html = [
      '<path d="M11.1 12.08c-2.33-4.51-.5-8.48.53-10.07C6.27 2.2 1.52-.87 2.83-2.12 3.51.98.32 2.03.5z"/>',
      '<h4 class="subsubsection">7.1.1.1 <acronym>SHA256</acronym></h4>',
      '<h4 class="title">\n<a name="dh-structure"></a>10.3.2.1. Structure</h4>',
      '<li><a id="toc-SHA1" href="#SHA1">7.1.3.5 SHA1</a></li>',
    ].join("\n");
    expect(detect("ipv4", html)).toEqual([]);
    expect(
      detect(
        "ipv4",
        `${html}<code>192.168.1.1</code><td>10.0.0.37</td><a href="http://203.0.113.5/">203.0.113.5</a><img id="198.51.100.2">`,
      ),
    ).toEqual(["192.168.1.1", "10.0.0.37", "203.0.113.5", "203.0.113.5", "198.51.100.2"]);
    // A heading or an in-page link holding only an address holds an address.
    expect(detect("ipv4", '<li><a href="#">198.51.100.23</a></li><h3>203.0.113.7</h3>')).toEqual([
      "198.51.100.23",
      "203.0.113.7",
    ]);
  });
  it("finds every address of a long list, and none inside an SVG shape after it", () => {
    // Each candidate's look back for an SVG attribute goes on from the one before it.
    const list = Array.from({ length: 5000 }, (_, i) => `10.${i >> 8}.${i & 255}.7`);
    const found = detect("ipv4", `${list.join("\n")}\n<path d="M1 2 3.51.98.32 4z"/>`);
    expect(found).toEqual(list);
  });
  it("ignores the public DNS resolvers a configuration names, no person's address", () => {
    const resolv =
      'nameservers: ["1.1.1.1", "8.8.8.8"]\nnameserver 9.9.9.9\nupstream 8.8.4.4 1.0.0.1';
    expect(detect("ipv4", resolv)).toEqual([]);
    expect(detect("ipv4", "client 8.8.8.9 resolver 8.8.8.8 via 1.1.1.2")).toEqual([
      "8.8.8.9",
      "1.1.1.2",
    ]);
  });
});

describe("ipv6", () => {
  it("detects full and compressed addresses", () => {
    expect(
      detect(
        "ipv6",
        "from 2001:db8:85a3::8a2e:370:7334 and 2001:0db8:85a3:0000:0000:8a2e:0370:7334.",
      ),
    ).toEqual(["2001:db8:85a3::8a2e:370:7334", "2001:0db8:85a3:0000:0000:8a2e:0370:7334"]);
  });
  it("ignores addresses that name no device: unspecified, loopback, masks, multicast, networks, resolvers", () => {
    const config = [
      "0:0:0:0:0:0:0:0 0000:0000:0000:0000:0000:0000:0000:0001 0:0:0:0:0:0:0:1",
      "netmask: 'ffff:ffff:ffff:ffff::' 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff00' group ff02::1:3",
      "2001:db8:8000::/33 ::ffff:0:0/96 64:ff9b:1::/48",
      "nameservers 2001:4860:4860::8888 2606:4700:4700::1111 2620:fe::fe",
    ].join("\n");
    expect(detect("ipv6", config)).toEqual([]);
    expect(
      detect(
        "ipv6",
        "client fe80::a00:27ff:fe4e:66a1 2001:db8::1/64 2001:4860:4860::8889 0:0:0:0:0:0:1:1 peer 2a02:1234:5678:9abc::/128",
      ),
    ).toEqual([
      "fe80::a00:27ff:fe4e:66a1",
      "2001:db8::1",
      "2001:4860:4860::8889",
      "0:0:0:0:0:0:1:1",
      "2a02:1234:5678:9abc::",
    ]);
  });
  it("ignores times, loopback, C++ scopes and MAC addresses", () => {
    expect(
      detect(
        "ipv6",
        "at 10:30:00 on ::1, std::vector<int>, ab::cd, mac 00:1a:2b:3c:4d:5e, key: value",
      ),
    ).toEqual([]);
  });
});
