"""What the explorer's pages show, as plain data built from the index.

Views only pick the resource and render; everything a page displays is computed here,
ready to print (dates formatted, names readable, URLs made), so tests can call these
functions directly. Each page costs a few queries whatever the size of the index: lists
are paged in the database, and the counts of a page's rows come from one grouped query
over the rows of that page, never one query per row.

One module per part of a page, each imported by name from where it lives:

- formatting: DICOM dates, times, names, sizes and UIDs as a person reads them; moments,
  counts of resources
- links: the URLs pages link to, and query strings kept from link to link
- listings: filtering, sorting and paging a list of resources
- patients: the patient list
- studies: the study list, and the rows of studies any page shows
- resource: one resource's page: its modules, breadcrumbs and actions
- children: what a resource page lists below it (studies, series, instances), filtered and
  paged; an instance's neighbours in its series
- instance: an instance's tag tree and frames
- windowing: the window/level presets of the pictures, and the links that keep one
- lookup: the resources an identifier typed in the jump box names
- deletion: the confirmation step and what remains after a delete
"""
