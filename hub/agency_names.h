/*  agency_names: the agencies of the county by their Chinese names, for
    the pages people read (hubctl report, the hub's supervision page). */
#ifndef ONENET_AGENCY_NAMES_H
#define ONENET_AGENCY_NAMES_H

/* The name of the agency with this code ("税务局" for "tax"), or NULL for
   a code without one (shown as it is). */
const char *agency_name_zh (const char *code);

#endif
