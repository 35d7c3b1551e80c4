/**
 * Market regions: the continent of a node's country (ISO 3166-1 alpha-2). The market view groups
 * offers per (resource class, region) so a price index compares like with like; a continent is
 * coarse enough that a region has several offers and fine enough that latency within it is
 * comparable. A country missing from the table is its own region, so nothing is ever dropped.
 *
 * Transcontinental countries sit where most of their population and data centres are (RU: Europe,
 * TR, KZ, AZ, GE: Asia, EG: Africa); Cyprus is in Europe with the EU.
 */
const continents: Readonly<Record<string, string>> = {
  Europe:
    "AD AL AT AX BA BE BG BY CH CY CZ DE DK EE ES FI FO FR GB GG GI GR HR HU IE IM IS IT JE LI LT LU LV " +
    "MC MD ME MK MT NL NO PL PT RO RS RU SE SI SJ SK SM UA VA XK",
  Asia:
    "AE AF AM AZ BD BH BN BT CC CN CX GE HK ID IL IN IO IQ IR JO JP KG KH KP KR KW KZ LA LB LK MM MN MO " +
    "MV MY NP OM PH PK PS QA SA SG SY TH TJ TL TM TR TW UZ VN YE",
  Africa:
    "AO BF BI BJ BW CD CF CG CI CM CV DJ DZ EG EH ER ET GA GH GM GN GQ GW KE KM LR LS LY MA MG ML MR MU " +
    "MW MZ NA NE NG RE RW SC SD SH SL SN SO SS ST SZ TD TG TN TZ UG YT ZA ZM ZW",
  "North America":
    "AG AI AW BB BL BM BQ BS BZ CA CR CU CW DM DO GD GL GP GT HN HT JM KN KY LC MF MQ MS MX NI PA PM PR " +
    "SV SX TC TT US VC VG VI",
  "South America": "AR BO BR CL CO EC FK GF GY PE PY SR UY VE",
  Oceania: "AS AU CK FJ FM GU KI MH MP NC NF NR NU NZ PF PG PN PW SB TK TO TV UM VU WF WS",
  Antarctica: "AQ BV GS HM TF",
};

const regionByCountry: ReadonlyMap<string, string> = new Map(
  Object.entries(continents).flatMap(([region, codes]) =>
    codes.split(" ").map((code) => [code, region] as const),
  ),
);

/**
 * The market region of a country code: its continent, or the code itself when unknown.
 *
 * @example
 * regionOf("DE") // "Europe"
 * regionOf("SG") // "Asia"
 */
export function regionOf(country: string): string {
  return regionByCountry.get(country) ?? country;
}
