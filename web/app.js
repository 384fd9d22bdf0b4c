/*
 * tilannekuva web page: the five views of the situation picture over the open-data API.
 *
 * No libraries and no build step. Every element is made with createElement and every text
 * set with textContent, so figures, sources, notes and names that clients submitted show
 * as literal text. The state lives in the address (#/view?year=…&as_of=…), so a copied
 * address reopens the same view.
 */
(function () {
  "use strict";

  // ---------------------------------------------------------------------------------------
  // Texts. Every string the page shows, in Finnish, Swedish and English; {name} marks a
  // value that t() puts in.
  // ---------------------------------------------------------------------------------------
  const TEXT = {
    en: {
      title: "tilannekuva",
      tagline: "Situation picture of regional development in Finland",
      skip: "Skip to content",
      navLabel: "Views",
      "view.national": "National picture",
      "view.map": "Map",
      "view.area": "Area",
      "view.round": "Reporting round",
      "view.upload": "Upload figures",
      access: "Access",
      accessInUse: "Access (token in use)",
      tokenLabel: "Access token",
      tokenSave: "Save",
      tokenClear: "Clear",
      tokenSaved: "A token is in use in this browser tab.",
      tokenNone: "No token: reading without one.",
      controlsLabel: "Settings",
      year: "Year",
      borders: "Borders",
      bordersLatest: "Latest borders (default)",
      bordersOwn: "Each year's own borders",
      bordersOf: "Borders of {year}",
      asOfKind: "As of",
      kindRecorded: "what was recorded by",
      kindPublished: "what was published by",
      asOf: "Date (end of day)",
      asOfHint: "Empty: the latest state.",
      lang: "Language",
      indicator: "Indicator",
      level: "Areas",
      levelRegion: "Regions",
      levelMunicipality: "Municipalities",
      colourBy: "Colour by",
      colourValue: "Value",
      colourRank: "Rank",
      area: "Area",
      areaChoose: "Choose an area",
      footerMap:
        "Map boundaries: National Land Survey of Finland (NLS), Administrative borders 1:4 500 000, CC BY 4.0",
      footerData: "Figures: the service's open data",
      loading: "Loading…",
      loaded: "{view} loaded.",
      // The line under each view's heading.
      ctxYear: "Year {year}",
      ctxBordersLatest: "latest borders ({division})",
      ctxBordersOwn: "the year's own borders ({division})",
      ctxBordersOf: "borders of {division}",
      ctxBordersUnknown: "borders not known",
      ctxAsOfLatest: "latest state",
      ctxAsOfDate: "as known at the end of {date}",
      ctxPublishedBy: "as published by the end of {date}",
      ctxAsOfSeq: "as of event {seq}",
      ctxSequence: "event sequence {seq}",
      ctxUpload: "Figures are recorded into the latest state; a check records nothing.",
      // Errors.
      err401: "A token is needed: give one under “Access” at the top of the page.",
      err401Bad: "The token was not accepted: give a valid one under “Access” at the top of the page.",
      err403: "Your token does not have the right role for this: give a token with the right role under “Access”.",
      errNetwork: "The service could not be reached. Try again in a moment.",
      errServer: "The service could not answer ({status}).",
      errPrefix: "Error",
      // Themes of the indicators.
      "theme.climate": "Climate and environment",
      "theme.communities": "Communities and accessibility",
      "theme.competence": "Competence and education",
      "theme.inclusion": "Inclusion and wellbeing",
      "theme.business": "Business and employment",
      "theme.other": "Other",
      // National view.
      nationalTitle: "National picture {year}",
      nationalCaption: "National value of each indicator, {year}, and what it rests on",
      colIndicator: "Indicator",
      colNational: "National value",
      colRestsOn: "Rests on",
      colMin: "Minimum",
      colMedian: "Median",
      colMax: "Maximum",
      "basis.official": "official figure",
      "basis.complete": "all regions",
      "basis.partial": "partial",
      "basis.unavailable": "no national value",
      reportedOf: "reported {n} of {m} regions",
      noFigure: "no figure",
      provisional: "provisional",
      openMap: "Map of {name}",
      targetsTitle: "Targets",
      targetsCaption: "National targets against the latest figures",
      targetsNone: "No targets have been set.",
      colTarget: "Target",
      colLatest: "Latest figure",
      colGap: "Gap",
      colPace: "Pace needed / recent pace per year",
      colStatus: "Status",
      colReason: "Reason",
      targetBy: "{value} by {year}",
      latestIn: "{value} ({year})",
      "target.reached": "reached",
      "target.on_track": "on track",
      "target.off_track": "off track",
      "target.missed": "missed",
      "target.unknown": "unknown",
      disparitiesTitle: "Disparities between regions: {name}",
      disparitiesCaption: "Disparities between regions in {name}, {from}–{to}",
      disparitiesNone: "No region reported a figure of {year}: nothing to compare. Choose another year or an indicator above.",
      colYearShort: "Year",
      colAreas: "Regions reported",
      colCv: "Coefficient of variation",
      colGini: "Gini",
      sigma: "Sigma convergence (slope of the CV per year): {value}",
      beta: "Beta convergence (slope over {n} regions): {value}",
      betaPlain: "Beta convergence: {value}",
      whyNot: "not computed: {why}",
      notComputedNote: "not computed (note {n})",
      notComputedSeeReason: "not computed (see the reason)",
      notesTitle: "Notes",
      sourceLabel: "Source: {text}",
      // Map view.
      mapTitle: "Map: {name}, {year}",
      mapLabel: "Map of {level} of Finland coloured by {name}, {year}. The same figures are in the table below.",
      mapCaption: "{name} by area, {year}",
      colCode: "Code",
      colName: "Name",
      colValue: "Value",
      colRank: "Rank",
      rankOf: "{rank} of {n}",
      notRanked: "not ranked",
      legendTitle: "Legend",
      legendValue: "Darker: higher value",
      legendRank: "Darker: better rank",
      legendNoFigure: "no figure (hatched)",
      legendRankRange: "ranks {from}–{to}",
      neutralNoRank: "This indicator has no better direction, so areas are not ranked; the map is coloured by value.",
      mapApproximate: "Drawn from the municipal boundaries of {year}: the borders of earlier years are approximate.",
      mapNoMunicipalities: "The borders of {year} say which regions there were, not where each municipality lay: only regions can be drawn on them.",
      openArea: "Open the area view of {name}",
      // Area view.
      areaTitle: "{name}, {year}",
      areaPick: "Choose an area in the settings above, or on the map.",
      areaCaption: "Indicators of {name}, {year}",
      colPeers: "Peer groups",
      colChange: "Change from the year before",
      colTrend: "Trend",
      colTrail: "Revisions",
      peerValue: "{group}: {value}",
      peerRank: "rank {rank} of {n}",
      breakInBorders: "no change: the year before is on other borders ({years})",
      trailButton: "Trail",
      trailButtonLabel: "Trail of {name}, {year}",
      trailTitle: "Revisions of {name}, {area}, {year}",
      trailCaption: "Every revision of the figure, oldest first",
      trailHint: "Choose “Trail” on a row to see every revision of that figure.",
      derivedFrom: "from {used} of {expected} municipalities",
      trailDerived: "This figure is not reported as such: it is put together from the figures of {used} of {expected} municipalities, each with its own trail in the municipality's area view.",
      trailEmpty: "No revisions of this figure on these borders.",
      colRecorded: "Recorded",
      colWho: "By",
      colSource: "Source",
      colRelease: "Published",
      colNote: "Note or reason",
      colSequence: "Event",
      "status.final": "final",
      "status.provisional": "provisional",
      "status.retracted": "retracted",
      noteLabel: "note: {text}",
      correctionLabel: "correction: {text}",
      retractionLabel: "retraction: {text}",
      elsewhere: "Figures on other borders only: {list}",
      areaNoCells: "No figures for this area and year.",
      // Round view.
      roundTitle: "Reporting round {year}",
      roundNone: "No reporting round has been opened for {year}.",
      deadline: "Deadline",
      deadlinePassed: "the deadline has passed",
      deadlineOpen: "the deadline has not passed",
      roundCaption: "Figures reported per region, round {year}",
      colRegion: "Region",
      colReported: "Reported",
      colMissing: "Missing",
      colOverdue: "Overdue",
      reportedNofM: "{n} of {m}",
      missingCount: "{n} missing",
      noneMissing: "none",
      overdue: "overdue",
      notOverdue: "not overdue",
      // Upload view.
      uploadTitle: "Upload figures",
      uploadHelp1:
        "A file is one submission. The first row names the columns: region_code, indicator_id, year, value, status (provisional or final), source and note. The columns may be in any order; region_code may be left out when a region is chosen below.",
      uploadHelp2:
        "Save it as CSV UTF-8: either comma-separated with a decimal point (3.5), or semicolon-separated with a decimal comma (3,5), as a Finnish spreadsheet saves it. A row without a value is skipped.",
      uploadHelp3:
        "First check the file: nothing is recorded. When the check finds no problems, submit the same file. You need the token of a reporter of the region, or a publisher's (Access, at the top).",
      uploadFile: "CSV file",
      uploadRegion: "Region",
      uploadRegionFromFile: "As in the file (region_code)",
      uploadCheck: "Check the file",
      uploadSubmit: "Submit",
      uploadNoFile: "Choose a file first.",
      uploadChecking: "Checking…",
      uploadSubmitting: "Submitting…",
      uploadCheckedOk: "The check found no problems: {n} figures, {recorded} would be recorded, {unchanged} unchanged. You can now submit the file.",
      uploadCheckedBad: "The check found problems in the file; nothing was recorded.",
      uploadDone: "The file was recorded.",
      uploadDuplicate: "This file was already recorded: the receipt is the original one.",
      problemsCaption: "Problems in the file",
      colLine: "Line",
      colColumn: "Column",
      colMessage: "Problem",
      wholeFile: "the whole file",
      receiptTitle: "Receipt",
      checkTitle: "What the check found",
      rcSubmission: "Submission",
      rcRegion: "Region",
      rcObservations: "Figures in the file",
      rcRecorded: "Recorded",
      rcUnchanged: "Unchanged",
      rcSkipped: "Rows skipped (no value)",
      rcSequences: "Event sequences",
      rcRevision: "Region revision",
      rcHash: "Receipt hash",
      rcValidateOnly: "Check only (nothing recorded)",
      yes: "yes",
      no: "no",
      none: "none",
    },
    fi: {
      title: "tilannekuva",
      tagline: "Aluekehityksen tilannekuva",
      skip: "Siirry sisältöön",
      navLabel: "Näkymät",
      "view.national": "Koko maa",
      "view.map": "Kartta",
      "view.area": "Alue",
      "view.round": "Raportointikierros",
      "view.upload": "Lähetä luvut",
      access: "Käyttöoikeus",
      accessInUse: "Käyttöoikeus (tunniste käytössä)",
      tokenLabel: "Käyttötunniste",
      tokenSave: "Tallenna",
      tokenClear: "Poista",
      tokenSaved: "Tunniste on käytössä tässä selainvälilehdessä.",
      tokenNone: "Ei tunnistetta: luetaan ilman.",
      controlsLabel: "Asetukset",
      year: "Vuosi",
      borders: "Aluejako",
      bordersLatest: "Uusin aluejako (oletus)",
      bordersOwn: "Kunkin vuoden oma aluejako",
      bordersOf: "Vuoden {year} aluejako",
      asOfKind: "Tilanne",
      kindRecorded: "kirjattu viimeistään",
      kindPublished: "julkaistu viimeistään",
      asOf: "Päivä (päivän loppu)",
      asOfHint: "Tyhjä: uusin tilanne.",
      lang: "Kieli",
      indicator: "Indikaattori",
      level: "Alueet",
      levelRegion: "Maakunnat",
      levelMunicipality: "Kunnat",
      colourBy: "Väritys",
      colourValue: "Arvo",
      colourRank: "Sijoitus",
      area: "Alue",
      areaChoose: "Valitse alue",
      footerMap:
        "Karttarajat: Maanmittauslaitos (MML), Hallinnolliset aluejaot 1:4 500 000, CC BY 4.0",
      footerData: "Luvut: palvelun avoin data",
      loading: "Ladataan…",
      loaded: "Näkymä ”{view}” ladattu.",
      ctxYear: "Vuosi {year}",
      ctxBordersLatest: "uusin aluejako ({division})",
      ctxBordersOwn: "vuoden oma aluejako ({division})",
      ctxBordersOf: "vuoden {division} aluejako",
      ctxBordersUnknown: "aluejako ei tiedossa",
      ctxAsOfLatest: "uusin tilanne",
      ctxAsOfDate: "tilanne {date} lopussa",
      ctxPublishedBy: "julkaistu {date} loppuun mennessä",
      ctxAsOfSeq: "tilanne tapahtumassa {seq}",
      ctxSequence: "tapahtuma {seq}",
      ctxUpload: "Luvut tallentuvat uusimpaan tilanteeseen; tarkistus ei tallenna mitään.",
      err401: "Tarvitaan käyttötunniste: anna se sivun yläosan kohdassa ”Käyttöoikeus”.",
      err401Bad: "Tunnistetta ei hyväksytty: anna voimassa oleva tunniste sivun yläosan kohdassa ”Käyttöoikeus”.",
      err403: "Tunnisteellasi ei ole tähän oikeaa roolia: anna oikean roolin tunniste kohdassa ”Käyttöoikeus”.",
      errNetwork: "Palveluun ei saatu yhteyttä. Yritä hetken kuluttua uudelleen.",
      errServer: "Palvelu ei pystynyt vastaamaan ({status}).",
      errPrefix: "Virhe",
      "theme.climate": "Ilmasto ja ympäristö",
      "theme.communities": "Yhdyskunnat ja saavutettavuus",
      "theme.competence": "Osaaminen ja koulutus",
      "theme.inclusion": "Osallisuus ja hyvinvointi",
      "theme.business": "Elinkeinot ja työllisyys",
      "theme.other": "Muut",
      nationalTitle: "Koko maa {year}",
      nationalCaption: "Indikaattorien koko maan arvot vuonna {year} ja mihin ne perustuvat",
      colIndicator: "Indikaattori",
      colNational: "Koko maa",
      colRestsOn: "Perusta",
      colMin: "Pienin",
      colMedian: "Mediaani",
      colMax: "Suurin",
      "basis.official": "virallinen luku",
      "basis.complete": "kaikki maakunnat",
      "basis.partial": "osittainen",
      "basis.unavailable": "ei koko maan arvoa",
      reportedOf: "{n}/{m} maakuntaa raportoinut",
      noFigure: "ei lukua",
      provisional: "ennakollinen",
      openMap: "Kartta: {name}",
      targetsTitle: "Tavoitteet",
      targetsCaption: "Valtakunnalliset tavoitteet ja uusimmat luvut",
      targetsNone: "Tavoitteita ei ole asetettu.",
      colTarget: "Tavoite",
      colLatest: "Uusin luku",
      colGap: "Ero",
      colPace: "Tarvittava / viime vuosien muutos vuodessa",
      colStatus: "Tila",
      colReason: "Perustelu",
      targetBy: "{value} vuoteen {year} mennessä",
      latestIn: "{value} ({year})",
      "target.reached": "saavutettu",
      "target.on_track": "oikealla uralla",
      "target.off_track": "jäljessä",
      "target.missed": "ei saavutettu",
      "target.unknown": "ei tiedossa",
      disparitiesTitle: "Maakuntien väliset erot: {name}",
      disparitiesCaption: "Maakuntien väliset erot: {name}, {from}–{to}",
      disparitiesNone: "Yksikään maakunta ei ole raportoinut vuoden {year} lukua: ei vertailtavaa. Valitse toinen vuosi tai indikaattori yllä.",
      colYearShort: "Vuosi",
      colAreas: "Raportoineet maakunnat",
      colCv: "Variaatiokerroin",
      colGini: "Gini",
      sigma: "Sigma-konvergenssi (variaatiokertoimen muutos vuodessa): {value}",
      beta: "Beta-konvergenssi ({n} maakuntaa): {value}",
      betaPlain: "Beta-konvergenssi: {value}",
      whyNot: "ei laskettu: {why}",
      notComputedNote: "ei laskettu (huomautus {n})",
      notComputedSeeReason: "ei laskettu (ks. perustelu)",
      notesTitle: "Huomautukset",
      sourceLabel: "Lähde: {text}",
      mapTitle: "Kartta: {name}, {year}",
      mapLabel: "Suomen {level} väritettynä indikaattorin {name} mukaan, {year}. Samat luvut ovat alla olevassa taulukossa.",
      mapCaption: "{name} alueittain, {year}",
      colCode: "Koodi",
      colName: "Nimi",
      colValue: "Arvo",
      colRank: "Sijoitus",
      rankOf: "{rank}/{n}",
      notRanked: "ei sijoitusta",
      legendTitle: "Selite",
      legendValue: "Tummempi: suurempi arvo",
      legendRank: "Tummempi: parempi sijoitus",
      legendNoFigure: "ei lukua (viivoitettu)",
      legendRankRange: "sijat {from}–{to}",
      neutralNoRank: "Indikaattorilla ei ole parempaa suuntaa, joten alueita ei sijoiteta; kartta on väritetty arvon mukaan.",
      mapApproximate: "Piirretty vuoden {year} kuntarajoista: aiempien vuosien rajat ovat likimääräisiä.",
      mapNoMunicipalities: "Vuoden {year} aluejako kertoo, mitä maakuntia oli, ei sitä, missä kukin kunta oli: sille voi piirtää vain maakunnat.",
      openArea: "Avaa alueen {name} näkymä",
      areaTitle: "{name}, {year}",
      areaPick: "Valitse alue yllä olevista asetuksista tai kartalta.",
      areaCaption: "Alueen {name} indikaattorit, {year}",
      colPeers: "Vertailuryhmät",
      colChange: "Muutos edellisestä vuodesta",
      colTrend: "Kehitys",
      colTrail: "Muutoshistoria",
      peerValue: "{group}: {value}",
      peerRank: "sija {rank}/{n}",
      breakInBorders: "ei muutosta: edellinen vuosi on toisella aluejaolla ({years})",
      trailButton: "Historia",
      trailButtonLabel: "Historia: {name}, {year}",
      trailTitle: "Muutoshistoria: {name}, {area}, {year}",
      trailCaption: "Luvun kaikki versiot, vanhin ensin",
      trailHint: "Valitse rivin ”Historia” nähdäksesi luvun kaikki versiot.",
      derivedFrom: "{used}/{expected} kunnan luvuista",
      trailDerived: "Tätä lukua ei ole raportoitu sellaisenaan: se on koottu {used}/{expected} kunnan luvuista, joiden historia näkyy kunkin kunnan aluenäkymässä.",
      trailEmpty: "Luvulla ei ole versioita tällä aluejaolla.",
      colRecorded: "Tallennettu",
      colWho: "Tallentaja",
      colSource: "Lähde",
      colRelease: "Julkaistu",
      colNote: "Huomautus tai peruste",
      colSequence: "Tapahtuma",
      "status.final": "lopullinen",
      "status.provisional": "ennakollinen",
      "status.retracted": "peruttu",
      noteLabel: "huomautus: {text}",
      correctionLabel: "korjaus: {text}",
      retractionLabel: "peruutus: {text}",
      elsewhere: "Lukuja vain muilla aluejaoilla: {list}",
      areaNoCells: "Alueelle ei ole lukuja tältä vuodelta.",
      roundTitle: "Raportointikierros {year}",
      roundNone: "Vuodelle {year} ei ole avattu raportointikierrosta.",
      deadline: "Määräaika",
      deadlinePassed: "määräaika on umpeutunut",
      deadlineOpen: "määräaika ei ole umpeutunut",
      roundCaption: "Raportoidut luvut maakunnittain, kierros {year}",
      colRegion: "Maakunta",
      colReported: "Raportoitu",
      colMissing: "Puuttuu",
      colOverdue: "Myöhässä",
      reportedNofM: "{n}/{m}",
      missingCount: "{n} puuttuu",
      noneMissing: "ei yhtään",
      overdue: "myöhässä",
      notOverdue: "ei myöhässä",
      uploadTitle: "Lähetä luvut",
      uploadHelp1:
        "Yksi tiedosto on yksi lähetys. Ensimmäinen rivi nimeää sarakkeet: region_code, indicator_id, year, value, status (provisional tai final), source ja note. Sarakkeet voivat olla missä järjestyksessä tahansa; region_code voi puuttua, kun maakunta valitaan alla.",
      uploadHelp2:
        "Tallenna tiedosto muodossa CSV UTF-8: joko pilkuin eroteltuna desimaalipisteellä (3.5) tai puolipistein eroteltuna desimaalipilkulla (3,5), kuten suomenkielinen taulukkolaskenta sen tallentaa. Rivi ilman arvoa ohitetaan.",
      uploadHelp3:
        "Tarkista tiedosto ensin: mitään ei tallenneta. Kun tarkistus ei löydä ongelmia, lähetä sama tiedosto. Tarvitset maakunnan raportoijan tai julkaisijan tunnisteen (Käyttöoikeus, sivun yläosassa).",
      uploadFile: "CSV-tiedosto",
      uploadRegion: "Maakunta",
      uploadRegionFromFile: "Kuten tiedostossa (region_code)",
      uploadCheck: "Tarkista tiedosto",
      uploadSubmit: "Lähetä",
      uploadNoFile: "Valitse ensin tiedosto.",
      uploadChecking: "Tarkistetaan…",
      uploadSubmitting: "Lähetetään…",
      uploadCheckedOk: "Tarkistus ei löytänyt ongelmia: {n} lukua, {recorded} tallentuisi, {unchanged} ennallaan. Voit nyt lähettää tiedoston.",
      uploadCheckedBad: "Tarkistus löysi tiedostosta ongelmia; mitään ei tallennettu.",
      uploadDone: "Tiedosto tallennettiin.",
      uploadDuplicate: "Tämä tiedosto oli jo tallennettu: kuitti on alkuperäinen.",
      problemsCaption: "Ongelmat tiedostossa",
      colLine: "Rivi",
      colColumn: "Sarake",
      colMessage: "Ongelma",
      wholeFile: "koko tiedosto",
      receiptTitle: "Kuitti",
      checkTitle: "Tarkistuksen tulos",
      rcSubmission: "Lähetys",
      rcRegion: "Maakunta",
      rcObservations: "Lukuja tiedostossa",
      rcRecorded: "Tallennettu",
      rcUnchanged: "Ennallaan",
      rcSkipped: "Ohitetut rivit (ei arvoa)",
      rcSequences: "Tapahtumat",
      rcRevision: "Maakunnan versio",
      rcHash: "Kuitin tiiviste",
      rcValidateOnly: "Vain tarkistus (ei tallennettu)",
      yes: "kyllä",
      no: "ei",
      none: "ei yhtään",
    },
    sv: {
      title: "tilannekuva",
      tagline: "Lägesbild av den regionala utvecklingen i Finland",
      skip: "Hoppa till innehållet",
      navLabel: "Vyer",
      "view.national": "Hela landet",
      "view.map": "Karta",
      "view.area": "Område",
      "view.round": "Rapporteringsomgång",
      "view.upload": "Skicka in siffror",
      access: "Åtkomst",
      accessInUse: "Åtkomst (nyckel i bruk)",
      tokenLabel: "Åtkomstnyckel",
      tokenSave: "Spara",
      tokenClear: "Ta bort",
      tokenSaved: "En nyckel används i den här webbläsarfliken.",
      tokenNone: "Ingen nyckel: läser utan.",
      controlsLabel: "Inställningar",
      year: "År",
      borders: "Områdesindelning",
      bordersLatest: "Senaste indelningen (standard)",
      bordersOwn: "Varje års egen indelning",
      bordersOf: "Indelningen {year}",
      asOfKind: "Läge",
      kindRecorded: "registrerat senast",
      kindPublished: "publicerat senast",
      asOf: "Datum (dagens slut)",
      asOfHint: "Tomt: det senaste läget.",
      lang: "Språk",
      indicator: "Indikator",
      level: "Områden",
      levelRegion: "Landskap",
      levelMunicipality: "Kommuner",
      colourBy: "Färg efter",
      colourValue: "Värde",
      colourRank: "Placering",
      area: "Område",
      areaChoose: "Välj ett område",
      footerMap:
        "Kartgränser: Lantmäteriverket (MML), Administrativa gränser 1:4 500 000, CC BY 4.0",
      footerData: "Siffror: tjänstens öppna data",
      loading: "Laddar…",
      loaded: "Vyn ”{view}” har laddats.",
      ctxYear: "År {year}",
      ctxBordersLatest: "senaste indelningen ({division})",
      ctxBordersOwn: "årets egen indelning ({division})",
      ctxBordersOf: "indelningen {division}",
      ctxBordersUnknown: "indelningen okänd",
      ctxAsOfLatest: "senaste läget",
      ctxAsOfDate: "läget vid slutet av {date}",
      ctxPublishedBy: "publicerat före slutet av {date}",
      ctxAsOfSeq: "läget vid händelse {seq}",
      ctxSequence: "händelse {seq}",
      ctxUpload: "Siffrorna registreras i det senaste läget; en kontroll registrerar ingenting.",
      err401: "En nyckel behövs: ange den under ”Åtkomst” högst upp på sidan.",
      err401Bad: "Nyckeln godtogs inte: ange en giltig nyckel under ”Åtkomst” högst upp på sidan.",
      err403: "Din nyckel har inte rätt roll för detta: ange en nyckel med rätt roll under ”Åtkomst”.",
      errNetwork: "Tjänsten kunde inte nås. Försök igen om en stund.",
      errServer: "Tjänsten kunde inte svara ({status}).",
      errPrefix: "Fel",
      "theme.climate": "Klimat och miljö",
      "theme.communities": "Samhällen och tillgänglighet",
      "theme.competence": "Kompetens och utbildning",
      "theme.inclusion": "Delaktighet och välfärd",
      "theme.business": "Näringsliv och sysselsättning",
      "theme.other": "Övriga",
      nationalTitle: "Hela landet {year}",
      nationalCaption: "Indikatorernas värden för hela landet {year} och vad de bygger på",
      colIndicator: "Indikator",
      colNational: "Hela landet",
      colRestsOn: "Bygger på",
      colMin: "Minsta",
      colMedian: "Median",
      colMax: "Största",
      "basis.official": "officiell siffra",
      "basis.complete": "alla landskap",
      "basis.partial": "delvis",
      "basis.unavailable": "inget värde för hela landet",
      reportedOf: "{n} av {m} landskap har rapporterat",
      noFigure: "ingen siffra",
      provisional: "preliminär",
      openMap: "Karta: {name}",
      targetsTitle: "Mål",
      targetsCaption: "Nationella mål och de senaste siffrorna",
      targetsNone: "Inga mål har satts.",
      colTarget: "Mål",
      colLatest: "Senaste siffra",
      colGap: "Skillnad",
      colPace: "Behövd / senaste förändring per år",
      colStatus: "Läge",
      colReason: "Motivering",
      targetBy: "{value} senast {year}",
      latestIn: "{value} ({year})",
      "target.reached": "uppnått",
      "target.on_track": "på rätt väg",
      "target.off_track": "efter",
      "target.missed": "inte uppnått",
      "target.unknown": "okänt",
      disparitiesTitle: "Skillnader mellan landskapen: {name}",
      disparitiesCaption: "Skillnader mellan landskapen: {name}, {from}–{to}",
      disparitiesNone: "Inget landskap har rapporterat en siffra för {year}: inget att jämföra. Välj ett annat år eller en indikator ovan.",
      colYearShort: "År",
      colAreas: "Landskap som rapporterat",
      colCv: "Variationskoefficient",
      colGini: "Gini",
      sigma: "Sigmakonvergens (variationskoefficientens förändring per år): {value}",
      beta: "Betakonvergens ({n} landskap): {value}",
      betaPlain: "Betakonvergens: {value}",
      whyNot: "inte beräknat: {why}",
      notComputedNote: "inte beräknat (not {n})",
      notComputedSeeReason: "inte beräknat (se motiveringen)",
      notesTitle: "Noter",
      sourceLabel: "Källa: {text}",
      mapTitle: "Karta: {name}, {year}",
      mapLabel: "Finlands {level} färgade efter {name}, {year}. Samma siffror finns i tabellen nedan.",
      mapCaption: "{name} per område, {year}",
      colCode: "Kod",
      colName: "Namn",
      colValue: "Värde",
      colRank: "Placering",
      rankOf: "{rank} av {n}",
      notRanked: "ingen placering",
      legendTitle: "Teckenförklaring",
      legendValue: "Mörkare: högre värde",
      legendRank: "Mörkare: bättre placering",
      legendNoFigure: "ingen siffra (streckad)",
      legendRankRange: "placering {from}–{to}",
      neutralNoRank: "Indikatorn har ingen bättre riktning, så områdena placeras inte; kartan är färgad efter värde.",
      mapApproximate: "Ritad efter kommungränserna {year}: tidigare års gränser är ungefärliga.",
      mapNoMunicipalities: "Indelningen {year} anger vilka landskap som fanns, inte var varje kommun låg: bara landskapen kan ritas på den.",
      openArea: "Öppna områdesvyn för {name}",
      areaTitle: "{name}, {year}",
      areaPick: "Välj ett område i inställningarna ovan eller på kartan.",
      areaCaption: "Indikatorer för {name}, {year}",
      colPeers: "Jämförelsegrupper",
      colChange: "Förändring från föregående år",
      colTrend: "Utveckling",
      colTrail: "Versioner",
      peerValue: "{group}: {value}",
      peerRank: "placering {rank} av {n}",
      breakInBorders: "ingen förändring: föregående år är på annan indelning ({years})",
      trailButton: "Historik",
      trailButtonLabel: "Historik: {name}, {year}",
      trailTitle: "Versioner av {name}, {area}, {year}",
      trailCaption: "Varje version av siffran, äldst först",
      trailHint: "Välj ”Historik” på en rad för att se varje version av siffran.",
      derivedFrom: "av {used} av {expected} kommuners siffror",
      trailDerived: "Siffran är inte rapporterad som sådan: den är sammanställd av {used} av {expected} kommuners siffror, var och en med sin historik i kommunens områdesvy.",
      trailEmpty: "Inga versioner av siffran på denna indelning.",
      colRecorded: "Registrerad",
      colWho: "Av",
      colSource: "Källa",
      colRelease: "Publicerad",
      colNote: "Anmärkning eller motivering",
      colSequence: "Händelse",
      "status.final": "slutlig",
      "status.provisional": "preliminär",
      "status.retracted": "återkallad",
      noteLabel: "anmärkning: {text}",
      correctionLabel: "rättelse: {text}",
      retractionLabel: "återkallelse: {text}",
      elsewhere: "Siffror endast på andra indelningar: {list}",
      areaNoCells: "Inga siffror för området detta år.",
      roundTitle: "Rapporteringsomgång {year}",
      roundNone: "Ingen rapporteringsomgång har öppnats för {year}.",
      deadline: "Tidsfrist",
      deadlinePassed: "tidsfristen har gått ut",
      deadlineOpen: "tidsfristen har inte gått ut",
      roundCaption: "Rapporterade siffror per landskap, omgång {year}",
      colRegion: "Landskap",
      colReported: "Rapporterat",
      colMissing: "Saknas",
      colOverdue: "Försenat",
      reportedNofM: "{n} av {m}",
      missingCount: "{n} saknas",
      noneMissing: "inga",
      overdue: "försenat",
      notOverdue: "inte försenat",
      uploadTitle: "Skicka in siffror",
      uploadHelp1:
        "En fil är en inlämning. Första raden namnger kolumnerna: region_code, indicator_id, year, value, status (provisional eller final), source och note. Kolumnerna kan stå i vilken ordning som helst; region_code kan utelämnas när ett landskap väljs nedan.",
      uploadHelp2:
        "Spara filen som CSV UTF-8: antingen kommaseparerad med decimalpunkt (3.5) eller semikolonseparerad med decimalkomma (3,5). En rad utan värde hoppas över.",
      uploadHelp3:
        "Kontrollera först filen: ingenting registreras. När kontrollen inte hittar några problem, skicka samma fil. Du behöver en nyckel för en rapportör i landskapet eller för en publicerare (Åtkomst, högst upp).",
      uploadFile: "CSV-fil",
      uploadRegion: "Landskap",
      uploadRegionFromFile: "Som i filen (region_code)",
      uploadCheck: "Kontrollera filen",
      uploadSubmit: "Skicka",
      uploadNoFile: "Välj först en fil.",
      uploadChecking: "Kontrollerar…",
      uploadSubmitting: "Skickar…",
      uploadCheckedOk: "Kontrollen hittade inga problem: {n} siffror, {recorded} skulle registreras, {unchanged} oförändrade. Du kan nu skicka filen.",
      uploadCheckedBad: "Kontrollen hittade problem i filen; ingenting registrerades.",
      uploadDone: "Filen registrerades.",
      uploadDuplicate: "Filen var redan registrerad: kvittot är det ursprungliga.",
      problemsCaption: "Problem i filen",
      colLine: "Rad",
      colColumn: "Kolumn",
      colMessage: "Problem",
      wholeFile: "hela filen",
      receiptTitle: "Kvitto",
      checkTitle: "Kontrollens resultat",
      rcSubmission: "Inlämning",
      rcRegion: "Landskap",
      rcObservations: "Siffror i filen",
      rcRecorded: "Registrerade",
      rcUnchanged: "Oförändrade",
      rcSkipped: "Överhoppade rader (inget värde)",
      rcSequences: "Händelser",
      rcRevision: "Landskapets version",
      rcHash: "Kvittots hash",
      rcValidateOnly: "Endast kontroll (inget registrerat)",
      yes: "ja",
      no: "nej",
      none: "inga",
    },
  };

  const LANGS = ["fi", "sv", "en"];
  const LANG_NAMES = { fi: "suomi", sv: "svenska", en: "English" };
  const LOCALES = { fi: "fi-FI", sv: "sv-FI", en: "en-GB" };
  const THEMES = ["climate", "communities", "competence", "inclusion", "business"];
  let lang = "en";

  /** The text of `key` in the page's language, with {name}s filled from `vars`. */
  function t(key, vars) {
    const s = TEXT[lang][key] ?? TEXT.en[key] ?? key;
    if (!vars) return s;
    return s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  }

  // ---------------------------------------------------------------------------------------
  // The address: #/<view>?year=…&borders=…&as_of=…|published_by=…&lang=…&indicator=…&level=…
  // &colour=…&area=…
  // ---------------------------------------------------------------------------------------
  const VIEWS = ["national", "map", "area", "round", "upload"];
  const PARAMS = ["year", "borders", "as_of", "published_by", "lang", "indicator", "level", "colour", "area"];
  // What each parameter may hold; anything else in a hand-edited address is dropped.
  const VALID = {
    year: /^\d{4}$/,
    borders: /^(own|\d{4})$/,
    as_of: /^(\d{1,19}|\d{4}-\d{2}-\d{2})$/, // a sequence or a day
    published_by: /^\d{4}-\d{2}-\d{2}$/,
    lang: /^(fi|sv|en)$/,
    indicator: /^[A-Za-z0-9_.-]{1,64}$/,
    level: /^(region|municipality)$/,
    colour: /^(value|rank)$/,
    area: /^[A-Za-z0-9]{1,16}$/,
  };

  /** The view and parameters the address holds. */
  function readRoute() {
    const raw = location.hash.replace(/^#\/?/, "");
    const q = raw.indexOf("?");
    const name = q < 0 ? raw : raw.slice(0, q);
    const sp = new URLSearchParams(q < 0 ? "" : raw.slice(q + 1));
    const r = { view: VIEWS.includes(name) ? name : "national" };
    for (const k of PARAMS) {
      const v = sp.get(k);
      if (v && VALID[k].test(v)) r[k] = v;
    }
    if (r.as_of) delete r.published_by; // one point in time (the service refuses both)
    return r;
  }

  /** The address of route `r`, its parameters in a fixed order. */
  function routeHash(r) {
    const sp = new URLSearchParams();
    for (const k of PARAMS) if (r[k]) sp.set(k, r[k]);
    const q = sp.toString();
    return "#/" + r.view + (q ? "?" + q : "");
  }

  /** Moves to the current route changed by `changes` (null/"" removes a parameter). */
  function go(changes) {
    const r = Object.assign({}, route, changes);
    for (const k of PARAMS) if (r[k] == null || r[k] === "") delete r[k];
    const hash = routeHash(r);
    if (hash !== location.hash) location.hash = hash;
  }

  let route = readRoute();

  // ---------------------------------------------------------------------------------------
  // Small DOM helpers. Attributes are set with setAttribute (never `style`), texts as text.
  // ---------------------------------------------------------------------------------------
  const SVG_NS = "http://www.w3.org/2000/svg";

  function append(el, kids) {
    for (const kid of kids.flat(Infinity)) {
      if (kid == null || kid === false) continue;
      el.append(kid instanceof Node ? kid : String(kid));
    }
    return el;
  }

  function setAttrs(el, attrs) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k === "text") el.textContent = String(v);
      else if (k === "class") el.setAttribute("class", v);
      else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    return el;
  }

  /** An HTML element: h("td", {class: "num"}, "text", child, …). */
  function h(tag, attrs, ...kids) {
    return append(setAttrs(document.createElement(tag), attrs), kids);
  }

  /** An SVG element. */
  function s(tag, attrs, ...kids) {
    return append(setAttrs(document.createElementNS(SVG_NS, tag), attrs), kids);
  }

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
    return el;
  }

  let uid = 0;
  const nextId = (prefix) => prefix + "-" + ++uid;

  /**
   * A table with a caption, column headers (those at `numeric` indices right-aligned, as
   * their figures) and rows, in a wrapper that scrolls sideways on a
   * narrow screen (focusable and named by the caption, so the keyboard can scroll it).
   */
  function table(opts) {
    const capId = nextId("cap");
    const tbl = h(
      "table",
      { id: opts.id, class: opts.class },
      h("caption", { id: capId }, opts.caption),
      h("thead", null, h("tr", null, opts.head.map((c, i) =>
        h("th", { scope: "col", class: (opts.numeric || []).includes(i) ? "num" : null }, c))))
    );
    const bodies = opts.bodies || [h("tbody", null, opts.rows)];
    append(tbl, bodies);
    const wrap = h(
      "div",
      { class: "table-wrap", tabindex: "0", role: "region", "aria-labelledby": capId },
      tbl
    );
    return wrap;
  }

  // ---------------------------------------------------------------------------------------
  // Numbers and dates in the page's language.
  // ---------------------------------------------------------------------------------------
  const formatters = new Map();

  function numberFormat(decimals, signed) {
    const key = lang + "|" + decimals + "|" + (signed ? 1 : 0);
    if (!formatters.has(key)) {
      const d = Math.max(0, Math.min(20, decimals | 0));
      formatters.set(
        key,
        new Intl.NumberFormat(LOCALES[lang], {
          minimumFractionDigits: d,
          maximumFractionDigits: d,
          signDisplay: signed ? "exceptZero" : "auto",
        })
      );
    }
    return formatters.get(key);
  }

  /** A figure with the indicator's decimals ("" for none). */
  function fmt(v, decimals, signed) {
    if (v == null || !Number.isFinite(v)) return "";
    return numberFormat(decimals == null ? 2 : decimals, signed).format(v);
  }

  /** A figure and its unit, or "no figure". */
  function fmtUnit(v, ind, signed) {
    if (v == null || !Number.isFinite(v)) return t("noFigure");
    const n = fmt(v, ind ? ind.decimals : 2, signed);
    return ind && ind.unit ? n + " " + ind.unit : n;
  }

  /** A measure without a fixed number of decimals (CV, Gini, slopes): 3 significant. */
  function fmtMeasure(v) {
    if (v == null || !Number.isFinite(v)) return "";
    return new Intl.NumberFormat(LOCALES[lang], { maximumSignificantDigits: 3 }).format(v);
  }

  /** An instant (RFC 3339) as Finnish local time in the page's language. */
  function fmtTime(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return iso;
    return d.toLocaleString(LOCALES[lang], {
      timeZone: "Europe/Helsinki",
      dateStyle: "medium",
      timeStyle: "short",
    });
  }

  /** A day (YYYY-MM-DD) in the page's language. */
  function fmtDate(day) {
    const d = new Date(day + "T00:00:00Z");
    if (Number.isNaN(d.getTime())) return day;
    return d.toLocaleDateString(LOCALES[lang], { timeZone: "UTC", dateStyle: "long" });
  }

  /** A figure, or a dash that reads as "no figure". */
  function figureOrDash(v, decimals) {
    if (v != null && Number.isFinite(v)) return fmt(v, decimals);
    return h("span", null, h("span", { "aria-hidden": "true" }, "–"), h("span", { class: "visually-hidden" }, t("noFigure")));
  }

  /** A time element: the text in local time, the exact instant in `datetime`. */
  function timeEl(iso) {
    return iso ? h("time", { datetime: iso }, fmtTime(iso)) : "";
  }

  /** Today's date in Finland, YYYY-MM-DD (as_of dates are days in Finnish time). */
  function todayInFinland() {
    return new Intl.DateTimeFormat("en-CA", { timeZone: "Europe/Helsinki" }).format(new Date());
  }

  // ---------------------------------------------------------------------------------------
  // Talking to the service.
  // ---------------------------------------------------------------------------------------
  const TOKEN_KEY = "tilannekuva.token";

  function token() {
    try {
      return sessionStorage.getItem(TOKEN_KEY) || "";
    } catch (_) {
      return "";
    }
  }

  /** A refusal of the service, with its message made readable. */
  class ApiError extends Error {
    constructor(status, code, message, body) {
      super(message);
      this.status = status;
      this.code = code;
      this.body = body;
    }
  }

  /** The ApiError of a refused answer: its JSON error message, never a raw body. */
  async function toError(res) {
    let body = null;
    try {
      body = await res.json();
    } catch (_) {
      body = null;
    }
    const e = (body && body.error) || {};
    let message;
    if (res.status === 401) message = token() ? t("err401Bad") : t("err401");
    else if (res.status === 403) message = t("err403");
    else message = typeof e.message === "string" && e.message ? e.message : t("errServer", { status: res.status });
    if ((res.status === 401 || res.status === 403) && typeof e.message === "string" && e.message) {
      message += " (" + e.message + ")";
    }
    return new ApiError(res.status, e.code || "", message, body);
  }

  function headers(extra) {
    const tok = token();
    return Object.assign(
      { Accept: "application/json" },
      tok ? { Authorization: "Bearer " + tok } : {},
      extra || {}
    );
  }

  /**
   * Answers kept for this page load: URL → {seq, data}. Only answers as of a point that has
   * passed (a sequence, or a day that has ended in Finland) are kept, as they never change;
   * the latest state is asked again each time (the browser revalidates by ETag, cheaply), and
   * so is "published by" a day: a figure recorded later may have been published before it.
   */
  const memo = new Map();

  function isFixedPoint(asOf) {
    if (!asOf) return false;
    if (/^\d+$/.test(asOf)) return true;
    return asOf < todayInFinland();
  }

  /**
   * GET a JSON answer of the API: `path` with `params` (empty ones left out) and the
   * route's language and as-of point. Resolves to {data, seq}; rejects with an ApiError.
   */
  async function api(path, params, ctx) {
    const sp = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) {
      if (v != null && v !== "") sp.set(k, String(v));
    }
    sp.set("lang", lang);
    if (route.as_of) sp.set("as_of", route.as_of);
    if (route.published_by) sp.set("published_by", route.published_by);
    const url = path + "?" + sp.toString();
    const fixed = isFixedPoint(route.as_of);
    if (fixed && memo.has(url)) return memo.get(url);
    let res;
    try {
      res = await fetch(url, {
        headers: headers(),
        cache: "no-cache",
        signal: ctx && ctx.signal,
      });
    } catch (err) {
      if (err && err.name === "AbortError") throw err;
      throw new ApiError(0, "NETWORK", t("errNetwork"), null);
    }
    if (!res.ok) throw await toError(res);
    const answer = { data: await res.json(), seq: res.headers.get("x-as-of-sequence") || "" };
    if (fixed) memo.set(url, answer);
    return answer;
  }

  // ---------------------------------------------------------------------------------------
  // JSON-stat 2.0: reading a dataset's cube by category ids.
  // ---------------------------------------------------------------------------------------
  function jsonstat(ds) {
    const ids = ds.id || [];
    const size = ds.size || [];
    // Category id → position, per dimension (index may be an object or an array).
    const pos = {};
    const order = {};
    for (const d of ids) {
      const idx = ds.dimension[d].category.index;
      const map = new Map();
      if (Array.isArray(idx)) idx.forEach((c, i) => map.set(c, i));
      else if (idx) for (const c of Object.keys(idx)) map.set(c, idx[c]);
      else map.set(Object.keys(ds.dimension[d].category.label || {})[0], 0);
      pos[d] = map;
      order[d] = [...map.entries()].sort((a, b) => a[1] - b[1]).map((e) => e[0]);
    }
    const strides = [];
    let acc = 1;
    for (let i = ids.length - 1; i >= 0; i--) {
      strides[i] = acc;
      acc *= size[i];
    }
    /** The flat index of `coords` ({dim: category}); a dimension of one category may be left out. */
    function at(coords) {
      let k = 0;
      for (let i = 0; i < ids.length; i++) {
        const c = coords[ids[i]];
        const p = c == null ? (size[i] === 1 ? 0 : -1) : pos[ids[i]].get(String(c));
        if (p == null || p < 0) return -1;
        k += p * strides[i];
      }
      return k;
    }
    const values = ds.value || [];
    const status = ds.status || {};
    return {
      ext: ds.extension || {},
      categories: (d) => (order[d] ? order[d].slice() : []),
      has: (d, c) => Boolean(pos[d] && pos[d].has(String(c))),
      label: (d, c) => {
        const l = ds.dimension[d] && ds.dimension[d].category.label;
        return (l && l[c]) || String(c);
      },
      /** The only category of a dimension of one category (the area, the borders, …). */
      only: (d) => (order[d] && order[d].length === 1 ? order[d][0] : null),
      value: (coords) => {
        const k = at(coords);
        const v = k < 0 ? null : values[k]; // value may be an array or an object by index
        return typeof v === "number" ? v : null;
      },
      status: (coords) => {
        const k = at(coords);
        if (k < 0) return null;
        return (Array.isArray(status) ? status[k] : typeof status === "string" ? status : status[k]) || null;
      },
    };
  }

  // ---------------------------------------------------------------------------------------
  // The catalog (indicators, regions, groups), as of the route's point.
  // ---------------------------------------------------------------------------------------
  async function loadIndicators(ctx) {
    const a = await api("/v1/indicators", null, ctx);
    const list = a.data.indicators || [];
    return { list, byId: new Map(list.map((i) => [i.id, i])) };
  }

  async function loadRegions(ctx) {
    const a = await api("/v1/regions", null, ctx);
    const list = (a.data.regions || []).filter((r) => r.kind !== "national");
    return { list };
  }

  /** The divisions, latest first: `{year, source, municipalities}`. */
  async function loadDivisions(ctx) {
    const a = await api("/v1/divisions", null, ctx);
    const list = a.data.divisions || [];
    return { list, byYear: new Map(list.map((d) => [String(d.year), d])) };
  }

  async function loadGroups(ctx) {
    const a = await api("/v1/groups", null, ctx);
    const list = a.data.groups || [];
    return { list, byId: new Map(list.map((g) => [g.id, g])) };
  }

  /** The regions in force in `year` (those with no bounds always). */
  function regionsOf(regions, year) {
    return regions.list.filter(
      (r) => (r.first_year == null || r.first_year <= year) && (r.last_year == null || r.last_year >= year)
    );
  }

  /** Indicators grouped by theme, in the catalog's theme order. */
  function byTheme(list) {
    const groups = new Map();
    for (const th of THEMES) groups.set(th, []);
    for (const ind of list) {
      const th = THEMES.includes(ind.theme) ? ind.theme : "other";
      if (!groups.has(th)) groups.set(th, []);
      groups.get(th).push(ind);
    }
    return [...groups.entries()].filter(([, l]) => l.length > 0);
  }

  // ---------------------------------------------------------------------------------------
  // Controls: one form, its fields shown per view; a change writes the address.
  // ---------------------------------------------------------------------------------------
  const form = document.getElementById("controls");
  const fields = {}; // route parameter → {wrap, label, input, labelKey}
  // Which fields each view shows.
  const VIEW_FIELDS = {
    national: ["year", "borders", "as_of_kind", "as_of", "indicator", "lang"],
    map: ["year", "borders", "as_of_kind", "as_of", "indicator", "level", "colour", "lang"],
    area: ["area", "year", "borders", "as_of_kind", "as_of", "lang"],
    round: ["year", "as_of_kind", "as_of", "lang"],
    upload: ["lang"],
  };
  // [route parameter, element id, label key, element type], in the order shown. The date
  // (as_of) goes into the address as `as_of` or `published_by`, as its kind says.
  const FIELD_DEFS = [
    ["area", "area", "area", "select"],
    ["year", "year", "year", "select"],
    ["borders", "borders", "borders", "select"],
    ["as_of_kind", "as-of-kind", "asOfKind", "select"],
    ["as_of", "as-of", "asOf", "date"],
    ["indicator", "indicator", "indicator", "select"],
    ["level", "level", "level", "select"],
    ["colour", "colour-by", "colourBy", "select"],
    ["lang", "lang", "lang", "select"],
  ];

  function buildControls() {
    for (const [name, id, labelKey, type] of FIELD_DEFS) {
      const label = h("label", { for: id });
      let input;
      if (type === "date") {
        input = h("input", { type: "date", id, name: id, "aria-describedby": id + "-hint" });
      } else {
        input = h("select", { id, name: id });
      }
      const wrap = h("div", { class: "field field-" + id }, label, input);
      if (type === "date") wrap.append(h("span", { id: id + "-hint", class: "hint" }));
      form.append(wrap);
      fields[name] = { wrap, label, input, labelKey };
      input.addEventListener("change", () => go(fieldChange(name, input.value)));
    }
    form.addEventListener("submit", (e) => e.preventDefault());
  }

  /** The change of the route a field's new value makes. */
  function fieldChange(name, value) {
    if (name !== "as_of" && name !== "as_of_kind") return { [name]: value };
    const date = fields.as_of.input.value;
    return fields.as_of_kind.input.value === "published_by"
      ? { published_by: date, as_of: null }
      : { as_of: date, published_by: null };
  }

  /** Fills a select with [value, text] options, keeping its element (and focus). */
  function setOptions(select, options, value) {
    const same =
      select.options.length === options.length &&
      options.every(([v, text], i) => select.options[i].value === v && select.options[i].text === text);
    if (!same) {
      clear(select);
      for (const [v, text] of options) select.append(h("option", { value: v }, text));
    }
    select.value = value;
    if (select.value !== value && options.length) select.value = options[0][0];
  }

  /** Shows the fields of the view, with their options and the route's values. */
  function updateControls(r, cat) {
    const shown = VIEW_FIELDS[r.view];
    for (const [name, f] of Object.entries(fields)) {
      f.wrap.hidden = !shown.includes(name);
      f.label.textContent = t(f.labelKey);
    }
    const thisYear = new Date().getFullYear();
    const minYear = cat && cat.indicators
      ? Math.min(...cat.indicators.list.map((i) => i.min_year || thisYear), thisYear)
      : thisYear - 30;
    const years = [];
    for (let y = thisYear; y >= minYear; y--) years.push([String(y), String(y)]);
    if (r.year && !years.some(([v]) => v === r.year)) years.push([r.year, r.year]);
    setOptions(fields.year.input, years, String(r.year));

    // The divisions the service holds, latest first.
    const borders = [["", t("bordersLatest")], ["own", t("bordersOwn")]];
    for (const d of cat && cat.divisions ? cat.divisions.list : []) {
      borders.push([String(d.year), t("bordersOf", { year: d.year })]);
    }
    if (r.borders && !borders.some(([v]) => v === r.borders)) {
      borders.push([r.borders, t("bordersOf", { year: r.borders })]);
    }
    setOptions(fields.borders.input, borders, r.borders || "");

    // The point in time: recorded by (as_of) unless the address says published by.
    const kind = fields.as_of_kind.input;
    const kindNow = r.published_by ? "published_by" : "as_of";
    setOptions(kind, [["as_of", t("kindRecorded")], ["published_by", t("kindPublished")]], kindNow);
    const asOf = fields.as_of.input;
    const day = r.published_by || r.as_of || "";
    asOf.max = todayInFinland();
    asOf.value = /^\d{4}-\d{2}-\d{2}$/.test(day) ? day : "";
    fields.as_of.wrap.querySelector(".hint").textContent =
      day && !asOf.value ? t("ctxAsOfSeq", { seq: day }) : t("asOfHint");

    setOptions(fields.lang.input, LANGS.map((l) => [l, LANG_NAMES[l]]), lang);
    setOptions(fields.level.input, [["region", t("levelRegion")], ["municipality", t("levelMunicipality")]], r.level || "region");
    setOptions(fields.colour.input, [["value", t("colourValue")], ["rank", t("colourRank")]], r.colour || "value");

    if (cat && cat.indicators) {
      const opts = cat.indicators.list.map((i) => [i.id, i.name || i.id]);
      setOptions(fields.indicator.input, opts, r.indicator || "");
    }
    if (cat && cat.regions) {
      const opts = [["", t("areaChoose")]].concat(
        regionsOf(cat.regions, Number(r.year)).map((x) => [x.code, x.name + " (" + x.code + ")"])
      );
      if (r.area && !opts.some(([v]) => v === r.area)) opts.push([r.area, cat.areaName || r.area]);
      setOptions(fields.area.input, opts, r.area || "");
    }
  }

  // ---------------------------------------------------------------------------------------
  // The static parts of the page in the page's language; the access (token) box.
  // ---------------------------------------------------------------------------------------
  function translateShell() {
    document.documentElement.lang = lang;
    document.title = t("title") + " – " + t("view." + route.view);
    const set = (id, key) => {
      const el = document.getElementById(id);
      if (el) el.textContent = t(key);
    };
    set("skip-link", "skip");
    set("site-title", "title");
    set("site-tagline", "tagline");
    set("token-label", "tokenLabel");
    set("token-save", "tokenSave");
    set("token-clear", "tokenClear");
    set("footer-map", "footerMap");
    set("footer-data", "footerData");
    document.getElementById("nav").setAttribute("aria-label", t("navLabel"));
    form.setAttribute("aria-label", t("controlsLabel"));
    updateAccess();
    updateNav();
  }

  /** The nav links carry the current settings to the other views. */
  function updateNav() {
    for (const a of document.querySelectorAll("#nav a[data-view]")) {
      const v = a.getAttribute("data-view");
      a.textContent = t("view." + v);
      a.setAttribute("href", routeHash(Object.assign({}, route, { view: v })));
      if (v === route.view) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
  }

  function updateAccess() {
    const has = Boolean(token());
    document.getElementById("access-summary").textContent = has ? t("accessInUse") : t("access");
    document.getElementById("token-state").textContent = has ? t("tokenSaved") : t("tokenNone");
  }

  function setupAccess() {
    const input = document.getElementById("token");
    document.getElementById("access-form").addEventListener("submit", (e) => {
      e.preventDefault();
      try {
        if (input.value.trim()) sessionStorage.setItem(TOKEN_KEY, input.value.trim());
      } catch (_) {
        /* storage refused: the token stays unsaved */
      }
      input.value = "";
      updateAccess();
      memo.clear();
      render();
    });
    document.getElementById("token-clear").addEventListener("click", () => {
      try {
        sessionStorage.removeItem(TOKEN_KEY);
      } catch (_) {
        /* nothing to remove */
      }
      input.value = "";
      updateAccess();
      memo.clear();
      render();
    });
  }

  // ---------------------------------------------------------------------------------------
  // Rendering: one render at a time; a newer one aborts the older one's requests.
  // ---------------------------------------------------------------------------------------
  const view = document.getElementById("view");
  const statusEl = document.getElementById("status");
  let current = null; // {controller} of the render in progress
  let lastView = null;

  function setStatus(text, isError) {
    statusEl.textContent = text || "";
    statusEl.classList.toggle("is-error", Boolean(isError));
  }

  /** The line under a view's heading: the year, the borders and the as-of point. */
  function contextLine(r, info) {
    const parts = [];
    if (info.year !== false) parts.push(t("ctxYear", { year: r.year }));
    if (info.borders !== false) {
      const division = info.division;
      if (division == null) parts.push(t("ctxBordersUnknown"));
      else if (r.borders === "own") parts.push(t("ctxBordersOwn", { division }));
      else if (r.borders) parts.push(t("ctxBordersOf", { division }));
      else parts.push(t("ctxBordersLatest", { division }));
    }
    let asOf;
    if (r.published_by) asOf = t("ctxPublishedBy", { date: fmtDate(r.published_by) });
    else if (!r.as_of) asOf = t("ctxAsOfLatest");
    else if (/^\d+$/.test(r.as_of)) asOf = t("ctxAsOfSeq", { seq: r.as_of });
    else asOf = t("ctxAsOfDate", { date: fmtDate(r.as_of) });
    if (info.seq && info.seq !== r.as_of) asOf += " (" + t("ctxSequence", { seq: info.seq }) + ")";
    parts.push(asOf);
    return h("p", { class: "context", id: "context" }, parts.join(" · "));
  }

  /** The borders dimension's division year of a JSON-stat answer (null: none known). */
  function divisionOf(cube) {
    const b = cube.only("borders");
    return b && /^\d{4}$/.test(b) ? Number(b) : null;
  }

  async function render() {
    route = readRoute();
    // Defaults are written into the address (without a new history entry), so that a
    // copied address always reopens the same year in the same language.
    if (!route.lang || !route.year) {
      settle(route, { lang: route.lang || preferredLang(), year: route.year || String(defaultYear()) });
    }
    lang = route.lang;
    if (current) current.controller.abort();
    const ctx = { controller: new AbortController() };
    ctx.signal = ctx.controller.signal;
    current = ctx;
    const viewChanged = lastView !== route.view;
    lastView = route.view;

    translateShell();
    updateControls(route, null);
    view.setAttribute("data-state", "loading");
    view.setAttribute("aria-busy", "true");
    setStatus(t("loading"));
    const out = document.createDocumentFragment();
    try {
      await VIEW_RENDER[route.view](route, ctx, out);
      if (ctx.signal.aborted) return;
      clear(view).append(out);
      view.setAttribute("data-state", "ready");
      setStatus(t("loaded", { view: t("view." + route.view) }));
    } catch (err) {
      if (ctx.signal.aborted || (err && err.name === "AbortError")) return;
      const message = err instanceof ApiError ? err.message : t("errServer", { status: "–" });
      if (!(err instanceof ApiError)) console.error(err); // a fault of the page itself
      clear(view).append(
        h("h2", null, t("view." + route.view)),
        h("p", { class: "error" }, t("errPrefix") + ": " + message)
      );
      view.setAttribute("data-state", "error");
      setStatus(t("errPrefix") + ": " + message, true);
    } finally {
      if (current === ctx) view.removeAttribute("aria-busy");
    }
    if (viewChanged && document.activeElement && document.activeElement.closest("#nav")) view.focus();
  }

  /** Completes route `r` with resolved defaults, in place in the address (if still current). */
  function settle(r, changes) {
    if (r !== route) return; // a newer render has taken over
    Object.assign(route, changes);
    history.replaceState(null, "", routeHash(route));
    updateNav();
  }

  function preferredLang() {
    for (const l of navigator.languages || [navigator.language || ""]) {
      const code = String(l).slice(0, 2).toLowerCase();
      if (LANGS.includes(code)) return code;
    }
    return "en";
  }

  /** The year shown when the address names none: the one before last, the latest with
   * most figures in (regional statistics come a year or more after their year). */
  function defaultYear() {
    return new Date().getFullYear() - 2;
  }

  /** Loads the catalog lists a view needs and refreshes the controls with them. */
  async function catalog(r, ctx, needs) {
    const [indicators, regions, groups, divisions] = await Promise.all([
      needs.includes("indicators") ? loadIndicators(ctx) : null,
      needs.includes("regions") ? loadRegions(ctx) : null,
      needs.includes("groups") ? loadGroups(ctx) : null,
      loadDivisions(ctx),
    ]);
    const cat = { indicators, regions, groups, divisions };
    if (!ctx.signal.aborted) updateControls(r, cat);
    return cat;
  }

  /** A link to another view with the current settings and `changes`. */
  function viewLink(changes, text, attrs) {
    const r = Object.assign({}, route, changes);
    for (const k of PARAMS) if (r[k] == null || r[k] === "") delete r[k];
    return h("a", Object.assign({ href: routeHash(r) }, attrs || {}), text);
  }

  /**
   * Why measures are missing, as numbered notes under a table: a cell says "not computed
   * (note 1)" and the note gives the reason once, however many cells share it.
   */
  function footnotes() {
    const reasons = [];
    return {
      ref(why) {
        let i = reasons.indexOf(why);
        if (i < 0) i = reasons.push(why) - 1;
        return t("notComputedNote", { n: i + 1 });
      },
      list() {
        if (!reasons.length) return "";
        return h("div", { class: "footnotes" },
          h("p", { class: "footnotes-title" }, t("notesTitle")),
          h("ol", null, reasons.map((r) => h("li", null, r))));
      },
    };
  }

  /** A panel's own failure, shown in the panel (the rest of the view still shows). */
  function panelError(err) {
    if (err && err.name === "AbortError") throw err;
    const message = err instanceof ApiError ? err.message : String(err);
    return h("p", { class: "error" }, t("errPrefix") + ": " + message);
  }

  // ---------------------------------------------------------------------------------------
  // View 1: the national picture, the targets and the disparities of one indicator.
  // Sources: /v1/indicators, /v1/national/picture, /v1/targets?area=SSS, /v1/disparities.
  // ---------------------------------------------------------------------------------------
  async function viewNational(r, ctx, out) {
    const year = Number(r.year);
    const [cat, pic] = await Promise.all([
      catalog(r, ctx, ["indicators"]),
      api("/v1/national/picture", { year, borders: r.borders }, ctx),
    ]);
    const cube = jsonstat(pic.data);
    const basis = cube.ext.basis || {};
    const division = divisionOf(cube);

    out.append(
      h("h2", null, t("nationalTitle", { year })),
      contextLine(r, { division, seq: pic.seq })
    );

    // The main table: a tbody per theme, a row per indicator of the catalog.
    const bodies = byTheme(cat.indicators.list).map(([theme, inds]) => {
      const body = h(
        "tbody",
        { "data-theme": theme },
        h("tr", { class: "theme-row" }, h("th", { scope: "rowgroup", colspan: "6" }, t("theme." + theme)))
      );
      for (const ind of inds) {
        const c = { indicator: ind.id };
        const has = cube.has("indicator", ind.id);
        const get = (m) => (has ? cube.value(Object.assign({ measure: m }, c)) : null);
        const value = get("value");
        const provisional = has && cube.status(Object.assign({ measure: "value" }, c)) === "p";
        const b = basis[ind.id] || "unavailable";
        const reported = get("regions_reported");
        const expected = get("regions_expected");
        let restsOn = t("basis." + b);
        if (reported != null && expected != null) {
          restsOn += "; " + t("reportedOf", { n: fmt(reported, 0), m: fmt(expected, 0) });
        }
        body.append(
          h(
            "tr",
            { "data-indicator": ind.id, "data-basis": b },
            h("th", { scope: "row" }, viewLink({ view: "map", indicator: ind.id }, ind.name || ind.id, {
              "aria-label": t("openMap", { name: ind.name || ind.id }),
            })),
            h("td", { class: "num" }, fmtUnit(value, ind), provisional ? h("span", { class: "flag" }, " (" + t("provisional") + ")") : ""),
            h("td", null, restsOn),
            ["min", "median", "max"].map((m) => h("td", { class: "num" }, figureOrDash(get(m), ind.decimals)))
          )
        );
      }
      return body;
    });
    out.append(
      table({
        id: "national-table",
        caption: t("nationalCaption", { year }),
        head: [t("colIndicator"), t("colNational"), t("colRestsOn"), t("colMin"), t("colMedian"), t("colMax")],
        numeric: [1, 3, 4, 5],
        bodies,
      })
    );

    // Targets and disparities load side by side; each shows its own failure.
    const indicatorId = r.indicator || firstReported(cube, cat.indicators);
    if (indicatorId && !r.indicator) settle(r, { indicator: indicatorId });
    if (indicatorId) fields.indicator.input.value = indicatorId;
    const [targets, disparities] = await Promise.all([
      targetsPanel(r, ctx, cat).catch(panelError),
      disparitiesPanel(r, ctx, cat, indicatorId).catch(panelError),
    ]);
    out.append(
      h("section", { id: "targets-section", "aria-labelledby": "targets-title" },
        h("h3", { id: "targets-title" }, t("targetsTitle")), targets),
      h("section", { id: "disparities", "aria-labelledby": "disparities-title" }, disparities)
    );
  }

  /**
   * The indicator shown when the address names none: the first (catalog order) that
   * regions reported in the picture, preferring a rate or mean to a sum (whose spread
   * measures the areas' sizes, not a disparity).
   */
  function firstReported(cube, indicators) {
    const reported = indicators.list.filter((ind) => {
      if (ind.aggregation === "national_only" || !cube.has("indicator", ind.id)) return false;
      const n = cube.value({ indicator: ind.id, measure: "regions_reported" });
      return n != null && n >= 2;
    });
    const pick = reported.find((ind) => ind.aggregation !== "sum") || reported[0];
    return pick ? pick.id : null;
  }

  async function targetsPanel(r, ctx, cat) {
    const a = await api("/v1/targets", { area: "SSS", borders: r.borders }, ctx);
    const cube = jsonstat(a.data);
    const about = cube.ext.targets || {};
    const whyNot = cube.ext.why_not || {};
    const ids = cube.categories("target");
    if (!ids.length) return h("p", { id: "targets" }, t("targetsNone"));
    const notes = footnotes();
    const rows = ids.map((id) => {
      const info = about[id] || {};
      const ind = cat.indicators.byId.get(info.indicator) || { decimals: 2, unit: "" };
      const get = (m) => cube.value({ target: id, measure: m });
      // A missing measure points to its reason: the row's own, or a note under the table.
      const missing = (m) => {
        const why = (whyNot[id] && whyNot[id][m]) || info.reason || "–";
        return why === info.reason ? t("notComputedSeeReason") : notes.ref(why);
      };
      const latestYear = get("latest_year");
      const status = info.status || "unknown";
      const pace = ["needed_pace", "recent_pace"].map((m) =>
        get(m) != null ? fmt(get(m), (ind.decimals || 0) + 1, true) : missing(m)
      );
      return h(
        "tr",
        { "data-target": id, "data-status": status },
        h("th", { scope: "row" }, ind.name || info.indicator || id),
        h("td", null, t("targetBy", { value: fmtUnit(get("target_value"), ind), year: info.year || "" })),
        h("td", null, latestYear != null
          ? t("latestIn", { value: fmtUnit(get("latest_value"), ind), year: latestYear })
          : missing("latest_value")),
        h("td", { class: "num" }, fmt(get("gap"), ind.decimals, true)),
        h("td", null, pace.join(" / ")),
        h("td", { class: "target-status status-" + status }, t("target." + status)),
        h("td", null, info.reason || "",
          info.source ? h("p", { class: "source" }, t("sourceLabel", { text: info.source })) : "")
      );
    });
    const frag = document.createDocumentFragment();
    frag.append(
      table({
        id: "targets",
        caption: t("targetsCaption"),
        head: [t("colIndicator"), t("colTarget"), t("colLatest"), t("colGap"), t("colPace"), t("colStatus"), t("colReason")],
        numeric: [3],
        rows,
      }),
      notes.list()
    );
    return frag;
  }

  async function disparitiesPanel(r, ctx, cat, indicatorId) {
    const frag = document.createDocumentFragment();
    const ind = indicatorId && cat.indicators.byId.get(indicatorId);
    if (!ind) {
      // No indicator named, and none that regions reported this year.
      frag.append(h("h3", { id: "disparities-title" }, t("disparitiesTitle", { name: "–" })),
        h("p", null, t("disparitiesNone", { year: r.year })));
      return frag;
    }
    const name = ind.name || ind.id;
    frag.append(h("h3", { id: "disparities-title" }, t("disparitiesTitle", { name })));
    const to = Number(r.year);
    const from = Math.max(ind.min_year || to - 10, to - 10);
    let a;
    try {
      a = await api("/v1/disparities", { indicator: ind.id, from_year: from, to_year: to, level: "region", borders: r.borders }, ctx);
    } catch (err) {
      frag.append(panelError(err));
      return frag;
    }
    const cube = jsonstat(a.data);
    const whyNot = cube.ext.why_not || {};
    const notes = footnotes();
    const cell = (y, m, decimals) => {
      const v = cube.value({ year: y, measure: m });
      if (v != null) return decimals == null ? fmtMeasure(v) : fmt(v, decimals);
      const why = whyNot[y] && whyNot[y][m];
      return why ? notes.ref(why) : "";
    };
    const rows = cube.categories("year").map((y) =>
      h(
        "tr",
        { "data-year": y },
        h("th", { scope: "row" }, y),
        h("td", { class: "num" }, t("reportedNofM", { n: cell(y, "areas", 0), m: cell(y, "areas_expected", 0) })),
        h("td", { class: "num" }, cell(y, "min", ind.decimals)),
        h("td", { class: "num" }, cell(y, "max", ind.decimals)),
        h("td", { class: "num", "data-measure": "cv" }, cell(y, "cv")),
        h("td", { class: "num", "data-measure": "gini" }, cell(y, "gini"))
      )
    );
    frag.append(
      table({
        id: "disparities-table",
        caption: t("disparitiesCaption", { name, from, to }),
        head: [t("colYearShort"), t("colAreas"), t("colMin"), t("colMax"), t("colCv"), t("colGini")],
        numeric: [1, 2, 3, 4, 5],
        rows,
      }),
      notes.list()
    );
    const conv = cube.ext.convergence || {};
    const measureText = (m) =>
      m && m.value != null ? fmtMeasure(m.value) : t("whyNot", { why: (m && m.why_not) || "–" });
    frag.append(
      h("p", { class: "convergence" }, t("sigma", { value: measureText(conv.sigma_slope) })),
      h("p", { class: "convergence" }, conv.beta_areas != null
        ? t("beta", { n: conv.beta_areas, value: measureText(conv.beta_slope) })
        : t("betaPlain", { value: measureText(conv.beta_slope) }))
    );
    return frag;
  }

  // ---------------------------------------------------------------------------------------
  // View 2: the map of one indicator.
  // Sources: /v1/indicators/{indicator}/areas (every area's figure and rank of the year: one
  // request, for regions and municipalities alike; its `borders` is the division the
  // figures are on), then /v1/map on that division. Without an indicator in the address,
  // the national picture says which the regions reported.
  // ---------------------------------------------------------------------------------------
  const PALETTE_CLASSES = 5;

  async function viewMap(r, ctx, out) {
    const year = Number(r.year);
    const level = r.level || "region";
    const cat = await catalog(r, ctx, ["indicators"]);
    let ind = cat.indicators.byId.get(r.indicator);
    if (!ind) {
      const pic = await api("/v1/national/picture", { year, borders: r.borders }, ctx);
      ind = cat.indicators.byId.get(firstReported(jsonstat(pic.data), cat.indicators)) ||
        cat.indicators.list.find((i) => i.aggregation !== "national_only");
      if (ind) settle(r, { indicator: ind.id });
    }
    if (!ind) throw new ApiError(0, "", t("disparitiesNone", { year }), null);
    fields.indicator.input.value = ind.id;

    const figures = await api("/v1/indicators/" + encodeURIComponent(ind.id) + "/areas",
      { year, level, borders: r.borders }, ctx);
    const division = figures.data.borders ?? null;
    const byCode = new Map((figures.data.areas || []).map((a) => [a.area, a]));
    const values = new Map();
    const ranks = new Map();
    for (const a of byCode.values()) {
      if (typeof a.value === "number") values.set(a.area, a.value);
      if (a.rank != null) ranks.set(a.area, a.rank);
    }

    const name = ind.name || ind.id;
    out.append(
      h("h2", null, t("mapTitle", { name, year })),
      contextLine(r, { division, seq: figures.seq })
    );
    let colourBy = r.colour === "rank" ? "rank" : "value";
    if (colourBy === "rank" && ind.direction === "neutral") {
      colourBy = "value";
      out.append(h("p", { class: "note" }, t("neutralNoRank")));
    }

    // The drawing; if it cannot be had (municipalities on borders before the municipality
    // key, or no boundaries at all), the table still is.
    let map = null;
    const drawn = cat.divisions.byYear.get(String(division));
    if (level !== "region" && drawn && !drawn.municipalities) {
      out.append(h("p", { class: "note" }, t("mapNoMunicipalities", { year: division })));
    } else {
      try {
        map = await api("/v1/map", { level, borders: division }, ctx);
      } catch (err) {
        out.append(panelError(err));
      }
    }
    const areas = map ? map.data.areas || [] : [];
    if (map) {
      const classes = classify(areas.map((a) => a.code), values, ranks, colourBy);
      const levelText = level === "municipality" ? t("levelMunicipality") : t("levelRegion");
      const label = t("mapLabel", { level: levelText.toLowerCase(), name, year });
      if (map.data.approximate) out.append(h("p", { class: "note" }, t("mapApproximate", { year: map.data.boundaries ?? "" })));
      out.append(
        h("figure", { class: "map-figure" },
          drawMap(map.data, values, classes, label, ind, byCode),
          legend(classes, colourBy, ind)
        )
      );
      if (map.data.attribution) {
        out.append(h("p", { class: "attribution" }, map.data.attribution));
      }
    }

    // The text alternative: every area's value and rank, in code order.
    const codes = [...new Set(areas.map((a) => a.code).concat([...byCode.keys()]))].sort();
    const mapName = new Map(areas.map((a) => [a.code, a.name]));
    const rows = codes.map((code) => {
      const f = byCode.get(code) || {};
      const v = values.get(code);
      const rank = ranks.get(code);
      const areaName = f.name || mapName.get(code) || code;
      return h(
        "tr",
        { "data-code": code, "data-value": v != null ? String(v) : "" },
        h("td", null, code),
        h("th", { scope: "row" }, viewLink({ view: "area", area: code }, areaName)),
        h("td", { class: "num" }, v != null ? fmtUnit(v, ind) : t("noFigure"),
          f.status === "provisional" ? h("span", { class: "flag" }, " (" + t("provisional") + ")") : ""),
        h("td", { class: "num" }, rank != null ? t("rankOf", { rank, n: f.ranked ?? ranks.size })
          : v != null && ind.direction === "neutral" ? t("notRanked") : "")
      );
    });
    out.append(
      table({
        id: "map-table",
        caption: t("mapCaption", { name, year }),
        head: [t("colCode"), t("colName"), t("colValue"), t("colRank")],
        numeric: [2, 3],
        rows,
      })
    );
  }

  /**
   * Colour classes 0-4 (0 lightest): the areas with a value in order of value (or of rank,
   * best darkest), cut into five groups of about the same size; equal values share a class.
   * Returns {of: code → class, ranges: [{min, max, from, to}]}.
   */
  function classify(codes, values, ranks, colourBy) {
    const key = colourBy === "rank" ? (c) => -ranks.get(c) : (c) => values.get(c);
    const sorted = codes.filter((c) => values.has(c) && (colourBy !== "rank" || ranks.has(c)));
    sorted.sort((a, b) => key(a) - key(b));
    const of = new Map();
    const ranges = [];
    const n = sorted.length;
    let first = 0;
    sorted.forEach((c, i) => {
      if (i > 0 && key(c) !== key(sorted[i - 1])) first = i;
      const k = Math.min(PALETTE_CLASSES - 1, Math.floor((first * PALETTE_CLASSES) / n));
      of.set(c, k);
      const v = values.get(c);
      const rk = ranks.get(c);
      const rg = ranges[k] || (ranges[k] = { min: v, max: v, from: rk, to: rk });
      rg.min = Math.min(rg.min, v);
      rg.max = Math.max(rg.max, v);
      if (rk != null) {
        rg.from = Math.min(rg.from ?? rk, rk);
        rg.to = Math.max(rg.to ?? rk, rk);
      }
    });
    return { of, ranges };
  }

  /**
   * The map: a path per area (coloured by its class, hatched without a figure) under its
   * outline. The areas are not focusable (an image's parts are hidden from assistive
   * technology); the keyboard opens an area from its link in the table below.
   */
  function drawMap(data, values, classes, label, ind, figures) {
    const w = Number(data.width) || 1000;
    const hgt = Number(data.height) || 1800;
    const svg = s("svg", {
      id: "map",
      class: "map",
      role: "img",
      "aria-label": label,
      viewBox: "0 0 " + w + " " + hgt,
      preserveAspectRatio: "xMidYMid meet",
      focusable: "false",
    });
    svg.append(
      s("title", null, label),
      s("defs", null,
        s("pattern", { id: "hatch", patternUnits: "userSpaceOnUse", width: "10", height: "10", patternTransform: "rotate(45)" },
          s("rect", { width: "10", height: "10", class: "hatch-bg" }),
          s("line", { x1: "0", y1: "0", x2: "0", y2: "10", class: "hatch-line" })
        )
      )
    );
    const fills = s("g", { class: "fills" });
    const outlines = s("g", { class: "outlines" });
    for (const a of data.areas || []) {
      const v = values.get(a.code);
      const k = classes.of.get(a.code);
      const path = s("path", {
        d: a.fill,
        class: "area " + (k != null ? "c" + k : "nofig"),
        "data-code": a.code,
        "data-value": v != null ? String(v) : "",
      });
      // A pointer's tooltip; the same text is in the table.
      const areaName = (figures.get(a.code) || {}).name || a.name || a.code;
      path.append(s("title", null, areaName + ": " + (v != null ? fmtUnit(v, ind) : t("noFigure"))));
      path.addEventListener("click", () => go({ view: "area", area: a.code }));
      fills.append(path);
      // Each outline twice: a light halo under a dark line, so that borders stand out from
      // the lightest and the darkest class alike.
      if (a.outline) {
        outlines.append(s("path", { d: a.outline, class: "outline-halo" }), s("path", { d: a.outline, class: "outline" }));
      }
    }
    svg.append(fills, outlines);
    return svg;
  }

  /** The legend: a swatch and the range of values (or ranks) of each class, and "no figure". */
  function legend(classes, colourBy, ind) {
    const items = [];
    classes.ranges.forEach((rg, k) => {
      if (!rg) return;
      const text = colourBy === "rank"
        ? t("legendRankRange", { from: rg.from, to: rg.to })
        : rg.min === rg.max ? fmtUnit(rg.min, ind) : fmt(rg.min, ind && ind.decimals) + " – " + fmtUnit(rg.max, ind);
      items.push(h("li", null, swatch("c" + k), text));
    });
    items.push(h("li", null, swatch("nofig"), t("legendNoFigure")));
    return h("figcaption", { class: "legend" },
      h("p", { class: "legend-title" }, t("legendTitle") + ": " + (colourBy === "rank" ? t("legendRank") : t("legendValue"))),
      h("ul", null, items)
    );
  }

  function swatch(cls) {
    return s("svg", { class: "swatch", viewBox: "0 0 20 14", "aria-hidden": "true", focusable: "false" },
      s("rect", { x: "0.5", y: "0.5", width: "19", height: "13", class: "area " + cls }));
  }

  // ---------------------------------------------------------------------------------------
  // View 3: one area's picture, trends and the trail of each figure.
  // Sources: /v1/regions/{code}/picture, /v1/regions/{code}/series/{indicator} (sparklines),
  // /v1/regions/{code}/history/{indicator}/{year} (the trail), /v1/indicators, /v1/groups.
  // ---------------------------------------------------------------------------------------
  async function viewArea(r, ctx, out) {
    const year = Number(r.year);
    const cat = await catalog(r, ctx, ["indicators", "regions", "groups"]);
    if (!r.area) {
      out.append(h("h2", null, t("view.area")), contextLine(r, { division: null, borders: false }), h("p", null, t("areaPick")));
      return;
    }
    const pic = await api("/v1/regions/" + encodeURIComponent(r.area) + "/picture", { year, borders: r.borders }, ctx);
    const cube = jsonstat(pic.data);
    const areaName = cube.label("area", cube.only("area") || r.area);
    cat.areaName = areaName;
    updateControls(r, cat);
    const division = divisionOf(cube);
    out.append(
      h("h2", null, t("areaTitle", { name: areaName, year })),
      contextLine(r, { division, seq: pic.seq })
    );

    const groupIds = cube.ext.groups || [];
    const cellBorders = cube.ext.cell_borders || {};
    const ids = cube.categories("indicator");
    if (!ids.length) out.append(h("p", null, t("areaNoCells")));

    const sparkCells = new Map(); // indicator → td of its sparkline
    const inds = ids.map((id) => cat.indicators.byId.get(id) || { id, name: cube.label("indicator", id), theme: "other", decimals: 2, unit: "" });
    const bodies = byTheme(inds).map(([theme, list]) => {
      const body = h("tbody", { "data-theme": theme },
        h("tr", { class: "theme-row" }, h("th", { scope: "rowgroup", colspan: "8" }, t("theme." + theme))));
      for (const ind of list) {
        const get = (m) => cube.value({ indicator: ind.id, measure: m });
        const value = get("value");
        const provisional = cube.status({ indicator: ind.id, measure: "value" }) === "p";
        const rank = get("rank");
        const ranked = get("regions_ranked");
        const change = get("change");
        const prevBorders = (cellBorders[ind.id] && cellBorders[ind.id].previous_borders) || [];
        const derived = cellBorders[ind.id] && cellBorders[ind.id].derived;
        const peers = groupIds
          .map((g) => {
            const gv = get(g + ":value");
            if (gv == null) return null;
            const gName = (cat.groups.byId.get(g) || {}).name || g;
            const gr = get(g + ":rank");
            const gn = get(g + ":regions_ranked");
            let text = t("peerValue", { group: gName, value: fmtUnit(gv, ind) });
            if (gr != null) text += " (" + t("peerRank", { rank: gr, n: gn ?? "–" }) + ")";
            return h("li", null, text);
          })
          .filter(Boolean);
        const spark = h("td", { class: "spark" });
        sparkCells.set(ind.id, spark);
        const name = ind.name || ind.id;
        body.append(
          h("tr", { "data-indicator": ind.id },
            h("th", { scope: "row" }, name),
            h("td", { class: "num", "data-value": value != null ? String(value) : "" },
              fmtUnit(value, ind), provisional ? h("span", { class: "flag" }, " (" + t("provisional") + ")") : "",
              derived ? h("span", { class: "derived" }, t("derivedFrom", derived)) : ""),
            h("td", { class: "num" }, fmtUnit(get("national_value"), ind)),
            h("td", null, peers.length ? h("ul", { class: "plain" }, peers) : ""),
            h("td", { class: "num" }, rank != null ? t("rankOf", { rank, n: ranked ?? "–" }) : ind.direction === "neutral" ? t("notRanked") : ""),
            h("td", { class: "num" }, change != null ? fmt(change, ind.decimals, true)
              : prevBorders.length ? t("breakInBorders", { years: prevBorders.join(", ") }) : ""),
            spark,
            h("td", null, h("button", {
              type: "button",
              class: "trail",
              "data-indicator": ind.id,
              "data-year": String(year),
              "aria-label": t("trailButtonLabel", { name, year }),
              "aria-controls": "trail",
            }, t("trailButton")))
          )
        );
      }
      return body;
    });
    const tableWrap = table({
      id: "area-table",
      caption: t("areaCaption", { name: areaName, year }),
      head: [t("colIndicator"), t("colValue"), t("colNational"), t("colPeers"), t("colRank"), t("colChange"), t("colTrend"), t("colTrail")],
      numeric: [1, 2, 4, 5],
      bodies,
    });
    out.append(tableWrap);
    const elsewhere = Object.keys(cube.ext.elsewhere || {});
    if (elsewhere.length) {
      const names = elsewhere.map((id) => (cat.indicators.byId.get(id) || {}).name || id);
      out.append(h("p", { class: "note" }, t("elsewhere", { list: names.join(", ") })));
    }

    // The trail of one figure, loaded on a click on its button.
    const trail = h("section", { id: "trail", "aria-live": "polite", "aria-labelledby": "trail-title" },
      h("h3", { id: "trail-title" }, t("colTrail")), h("p", null, t("trailHint")));
    out.append(trail);
    tableWrap.addEventListener("click", (e) => {
      const btn = e.target.closest("button.trail");
      if (btn) showTrail(r, btn.getAttribute("data-indicator"), Number(btn.getAttribute("data-year")), cat, cube, areaName, trail);
    });

    // Sparklines: each indicator's series up to the year, four requests at a time.
    await pool([...sparkCells.keys()], 4, async (id) => {
      const ind = cat.indicators.byId.get(id);
      const from = Math.max((ind && ind.min_year) || year - 15, year - 15);
      try {
        const a = await api("/v1/regions/" + encodeURIComponent(r.area) + "/series/" + encodeURIComponent(id),
          { from_year: from, to_year: year, borders: r.borders }, ctx);
        const sc = jsonstat(a.data);
        const points = sc.categories("year").map((y) => [Number(y), sc.value({ year: y, measure: "value" })]).filter((p) => p[1] != null);
        const svg = sparkline(points, year);
        if (svg) sparkCells.get(id).append(svg);
      } catch (err) {
        if (err && err.name === "AbortError") throw err;
        /* no trend: the figures are in the row */
      }
    });
  }

  /** Runs `fn` over `items`, at most `n` at a time. */
  async function pool(items, n, fn) {
    let next = 0;
    const worker = async () => {
      while (next < items.length) await fn(items[next++]);
    };
    await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  }

  /** A small trend line of [year, value] points, the chosen year marked; hidden from readers. */
  function sparkline(points, year) {
    if (points.length < 2) return null;
    const W = 96, H = 24, P = 3;
    const xs = points.map((p) => p[0]);
    const ys = points.map((p) => p[1]);
    const x0 = Math.min(...xs), x1 = Math.max(...xs);
    const y0 = Math.min(...ys), y1 = Math.max(...ys);
    const x = (v) => P + ((v - x0) / (x1 - x0 || 1)) * (W - 2 * P);
    const y = (v) => H - P - ((v - y0) / (y1 - y0 || 1)) * (H - 2 * P);
    const svg = s("svg", { class: "sparkline", viewBox: "0 0 " + W + " " + H, width: W, height: H, "aria-hidden": "true", focusable: "false" });
    svg.append(s("polyline", { points: points.map((p) => x(p[0]).toFixed(1) + "," + y(p[1]).toFixed(1)).join(" ") }));
    const last = points.find((p) => p[0] === year);
    if (last) svg.append(s("circle", { cx: x(last[0]).toFixed(1), cy: y(last[1]).toFixed(1), r: "2.5" }));
    return svg;
  }

  /** Loads one figure's history into the trail section, as a table of text. */
  async function showTrail(r, indicatorId, year, cat, picture, areaName, section) {
    const ind = cat.indicators.byId.get(indicatorId) || { id: indicatorId, decimals: 2, unit: "" };
    const name = ind.name || indicatorId;
    const cellBorders = (picture.ext.cell_borders || {})[indicatorId] || {};
    clear(section).append(h("h3", { id: "trail-title" }, t("trailTitle", { name, area: areaName, year })), h("p", null, t("loading")));
    section.setAttribute("aria-busy", "true");
    try {
      const a = await api(
        "/v1/regions/" + encodeURIComponent(r.area) + "/history/" + encodeURIComponent(indicatorId) + "/" + year,
        { borders: cellBorders.borders || "" },
        current
      );
      const cube = jsonstat(a.data);
      const revisions = cube.ext.revisions || [];
      const rows = revisions.map((rev, i) => {
        const seq = String(rev.sequence);
        const value = cube.value({ revision: seq, measure: "value" });
        const status = rev.retracted ? "retracted" : cube.status({ revision: seq, measure: "value" }) === "p" ? "provisional" : "final";
        const notes = [];
        if (rev.note) notes.push(h("li", null, t("noteLabel", { text: rev.note })));
        if (rev.correction_reason) notes.push(h("li", null, t("correctionLabel", { text: rev.correction_reason })));
        if (rev.retraction_reason) notes.push(h("li", null, t("retractionLabel", { text: rev.retraction_reason })));
        return h("tr", { "data-sequence": seq, "data-index": String(i) },
          h("th", { scope: "row" }, timeEl(rev.recorded_at)),
          h("td", null, rev.principal || ""),
          h("td", { class: "num" }, value != null ? fmtUnit(value, ind) : ""),
          h("td", null, t("status." + status)),
          h("td", { class: "source" }, rev.source || ""),
          h("td", null, rev.published ? timeEl(rev.published) : ""),
          h("td", null, notes.length ? h("ul", { class: "plain" }, notes) : ""),
          h("td", { class: "num" }, seq)
        );
      });
      const derived = cellBorders.derived;
      clear(section).append(
        h("h3", { id: "trail-title" }, t("trailTitle", { name, area: areaName, year })),
        derived ? h("p", { class: "note" }, t("trailDerived", derived)) : "",
        rows.length || derived ? "" : h("p", null, t("trailEmpty")),
        rows.length === 0 ? "" : table({
          id: "trail-table",
          caption: t("trailCaption"),
          head: [t("colRecorded"), t("colWho"), t("colValue"), t("colStatus"), t("colSource"), t("colRelease"), t("colNote"), t("colSequence")],
          numeric: [2, 7],
          rows,
        })
      );
    } catch (err) {
      if (err && err.name === "AbortError") return;
      clear(section).append(h("h3", { id: "trail-title" }, t("trailTitle", { name, area: areaName, year })), panelError(err));
      setStatus(t("errPrefix") + ": " + (err.message || ""), true);
    } finally {
      section.removeAttribute("aria-busy");
    }
  }

  // ---------------------------------------------------------------------------------------
  // View 4: the reporting round of the year: who has reported what, who is late.
  // Sources: /v1/rounds (is there a round, its deadline), /v1/rounds/{year}/status,
  // /v1/indicators (names of the missing ones).
  // ---------------------------------------------------------------------------------------
  async function viewRound(r, ctx, out) {
    const year = Number(r.year);
    const [cat, rounds] = await Promise.all([catalog(r, ctx, ["indicators"]), api("/v1/rounds", null, ctx)]);
    out.append(h("h2", null, t("roundTitle", { year })));
    const round = (rounds.data.rounds || []).find((x) => Number(x.year) === year);
    if (!round) {
      out.append(contextLine(r, { borders: false, seq: rounds.seq }), h("p", { id: "round-none" }, t("roundNone", { year })));
      return;
    }
    const st = await api("/v1/rounds/" + year + "/status", null, ctx);
    const d = st.data;
    out.append(contextLine(r, { borders: false, seq: st.seq }));
    const deadline = d.deadline || round.deadline;
    out.append(h("p", { id: "deadline", "data-passed": String(Boolean(d.deadline_passed)) },
      t("deadline") + ": ", timeEl(deadline), " (" + (d.deadline_passed ? t("deadlinePassed") : t("deadlineOpen")) + ")"));
    const indName = (id) => (cat.indicators.byId.get(id) || {}).name || id;
    const rows = (d.status || []).map((x) => {
      const missing = x.missing || [];
      const reported = x.reported_count ?? (x.reported || []).length;
      return h("tr", { "data-region": x.region, "data-overdue": String(Boolean(x.overdue)) },
        h("th", { scope: "row" }, (x.name || x.region) + " (" + x.region + ")"),
        h("td", { class: "num" }, t("reportedNofM", { n: reported, m: x.expected })),
        h("td", null, missing.length
          ? h("details", null, h("summary", null, t("missingCount", { n: missing.length })),
              h("ul", null, missing.map((id) => h("li", null, indName(id) + " (" + id + ")"))))
          : t("noneMissing")),
        h("td", { class: x.overdue ? "overdue" : null }, x.overdue ? h("strong", null, t("overdue")) : t("notOverdue"))
      );
    });
    out.append(table({
      id: "round-table",
      caption: t("roundCaption", { year }),
      head: [t("colRegion"), t("colReported"), t("colMissing"), t("colOverdue")],
      numeric: [1],
      rows,
    }));
  }

  // ---------------------------------------------------------------------------------------
  // View 5: a council's reporter checks a CSV file and submits it.
  // Sources: /v1/regions (the region select), POST /v1/submissions?validate_only=…
  // ---------------------------------------------------------------------------------------
  // The bytes that passed a check, and for which region: only those may be submitted.
  let checked = null; // {bytes: ArrayBuffer, region: string}

  async function viewUpload(r, ctx, out) {
    const cat = await catalog(r, ctx, ["regions"]);
    const thisYear = new Date().getFullYear();
    out.append(
      h("h2", null, t("uploadTitle")),
      h("p", { class: "context", id: "context" }, t("ctxUpload")),
      h("div", { class: "help", id: "upload-help" },
        h("p", null, t("uploadHelp1")), h("p", null, t("uploadHelp2")), h("p", null, t("uploadHelp3")),
        h("pre", { class: "example" },
          "region_code;indicator_id;year;value;status;source;note\nMK18;unemployment_rate_15_74;" + (thisYear - 1) + ";9,4;provisional;Tilastokeskus;\n")
      )
    );
    const file = h("input", { type: "file", id: "upload-file", name: "upload-file", accept: ".csv,text/csv", "aria-describedby": "upload-help" });
    const region = h("select", { id: "upload-region", name: "upload-region" },
      h("option", { value: "" }, t("uploadRegionFromFile")),
      regionsOf(cat.regions, thisYear).map((x) => h("option", { value: x.code }, x.name + " (" + x.code + ")")));
    const check = h("button", { type: "button", id: "upload-check" }, t("uploadCheck"));
    const submit = h("button", { type: "button", id: "upload-submit", disabled: true }, t("uploadSubmit"));
    const result = h("div", { id: "upload-result", "aria-live": "polite" });
    out.append(
      h("div", { class: "upload-form" },
        h("div", { class: "field" }, h("label", { for: "upload-file" }, t("uploadFile")), file),
        h("div", { class: "field" }, h("label", { for: "upload-region" }, t("uploadRegion")), region),
        h("div", { class: "buttons" }, check, submit)),
      result
    );
    checked = null;
    // Another file or region needs a new check.
    const invalidate = () => {
      checked = null;
      submit.disabled = true;
    };
    file.addEventListener("change", invalidate);
    region.addEventListener("change", invalidate);

    check.addEventListener("click", async () => {
      invalidate();
      const f = file.files && file.files[0];
      if (!f) {
        clear(result).append(h("p", { class: "error" }, t("uploadNoFile")));
        return;
      }
      let bytes;
      try {
        bytes = await f.arrayBuffer();
      } catch (_) {
        clear(result).append(h("p", { class: "error" }, t("uploadNoFile")));
        return;
      }
      const regionCode = region.value;
      const answer = await postSubmission(bytes, regionCode, true, result, t("uploadChecking"), check);
      if (answer && file.files[0] === f && region.value === regionCode) {
        checked = { bytes, region: regionCode };
        submit.disabled = false;
      }
    });
    submit.addEventListener("click", async () => {
      if (!checked) return;
      const { bytes, region: regionCode } = checked;
      submit.disabled = true;
      const answer = await postSubmission(bytes, regionCode, false, result, t("uploadSubmitting"), check);
      if (answer) checked = null; // done; a new check is needed for anything more
      else submit.disabled = !checked;
    });
  }

  /**
   * POSTs the file's bytes; shows the receipt, or the problems in a table. Resolves to the
   * receipt when the service took it (and for a check: found no problems), else null.
   */
  async function postSubmission(bytes, regionCode, validateOnly, result, busyText, busyButton) {
    const sp = new URLSearchParams({ validate_only: String(validateOnly) });
    if (regionCode) sp.set("region", regionCode);
    clear(result).append(h("p", null, busyText));
    busyButton.disabled = true;
    try {
      let res;
      try {
        res = await fetch("/v1/submissions?" + sp.toString(), {
          method: "POST",
          headers: headers({ "Content-Type": "text/csv" }),
          body: bytes,
          cache: "no-store",
        });
      } catch (_) {
        throw new ApiError(0, "NETWORK", t("errNetwork"), null);
      }
      if (!res.ok) throw await toError(res);
      let receipt;
      try {
        receipt = await res.json();
      } catch (_) {
        throw new ApiError(res.status, "", t("errServer", { status: res.status }), null);
      }
      const said = validateOnly
        ? t("uploadCheckedOk", {
            n: receipt.observations ?? "–",
            recorded: receipt.recorded ?? "–",
            unchanged: receipt.unchanged ?? "–",
          })
        : receipt.duplicate ? t("uploadDuplicate") : t("uploadDone");
      clear(result).append(h("p", { class: "ok" }, said), receiptList(receipt, validateOnly));
      setStatus(said);
      return receipt;
    } catch (err) {
      const message = err instanceof ApiError ? err.message : t("errServer", { status: "–" });
      const error = (err && err.body && err.body.error) || {};
      const problems = Array.isArray(error.problems) ? error.problems : [];
      const violations = Array.isArray(error.violations) ? error.violations : [];
      clear(result).append(h("p", { class: "error" }, t("errPrefix") + ": " + message));
      if (problems.length) {
        result.append(h("p", null, t("uploadCheckedBad")), problemsTable(problems));
      } else if (violations.length) {
        result.append(h("ul", null, violations.map((v) => h("li", null, (v.field ? v.field + ": " : "") + (v.description || "")))));
      }
      setStatus(t("errPrefix") + ": " + message, true);
      return null;
    } finally {
      busyButton.disabled = false;
    }
  }

  function problemsTable(problems) {
    const rows = problems.map((p) =>
      h("tr", { "data-line": String(p.line ?? 0), "data-column": String(p.column ?? 0) },
        h("th", { scope: "row" }, p.line ? String(p.line) : t("wholeFile")),
        h("td", null, p.column_name || (p.column ? String(p.column) : "")),
        h("td", null, p.message || ""))
    );
    return table({
      id: "upload-problems",
      caption: t("problemsCaption"),
      head: [t("colLine"), t("colColumn"), t("colMessage")],
      rows,
    });
  }

  /**
   * The receipt as a description list (#receipt; for a check, what it would record, with
   * data-validate-only="true"); every value as text.
   */
  function receiptList(rc, validateOnly) {
    const seqs = rc.first_sequence != null && rc.last_sequence != null
      ? rc.first_sequence === rc.last_sequence ? String(rc.first_sequence) : rc.first_sequence + "–" + rc.last_sequence
      : t("none");
    const items = [
      ["rcSubmission", rc.submission_id],
      ["rcRegion", rc.region_code],
      ["rcObservations", rc.observations],
      ["rcRecorded", rc.recorded],
      ["rcUnchanged", rc.unchanged],
      ["rcSkipped", rc.skipped_rows && rc.skipped_rows.length ? rc.skipped_rows.join(", ") : t("none")],
      ["rcSequences", seqs],
      ["rcRevision", rc.region_revision],
      ["rcHash", rc.receipt_hash],
      ["rcValidateOnly", rc.validate_only ? t("yes") : t("no")],
    ];
    return h("div", { class: "receipt" },
      h("h3", { id: "receipt-title" }, validateOnly ? t("checkTitle") : t("receiptTitle")),
      h("dl", { id: "receipt", "aria-labelledby": "receipt-title", "data-validate-only": String(Boolean(validateOnly)) },
        items.map(([k, v]) => [h("dt", null, t(k)), h("dd", { "data-field": k }, v == null ? "" : String(v))])));
  }

  const VIEW_RENDER = {
    national: viewNational,
    map: viewMap,
    area: viewArea,
    round: viewRound,
    upload: viewUpload,
  };

  // ---------------------------------------------------------------------------------------
  // Start: controls, access box, and a render on every change of the address.
  // ---------------------------------------------------------------------------------------
  function start() {
    buildControls();
    setupAccess();
    if (!location.hash || location.hash === "#") history.replaceState(null, "", "#/national");
    window.addEventListener("hashchange", render);
    render();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
