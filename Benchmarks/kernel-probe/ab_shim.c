/* Compiled into each build with -DAB_SIDE=a or b before its symbols are renamed
   (ab.sh), so that ab.c reaches both builds through ab_api_a and ab_api_b. */
#include "ab_api.h"
#define AB_CAT(x, y) x##y
#define AB_NAME(side) AB_CAT(ab_api_, side)
const ab_api AB_NAME(AB_SIDE) = {sc_conv_op_create, sc_conv_op_workspace_size, sc_conv_op_run,
                                 sc_conv_op_destroy};
