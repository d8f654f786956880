/* Settings of S2Meta (update-strategies.md B.5). */
#ifndef MELON_S2META_SETTINGS_H
#define MELON_S2META_SETTINGS_H

#include "melon/settings.h"
#include "update/meta_data.h"

typedef enum { MELON_SCOPE_TOUCHED, MELON_SCOPE_FULL } melon_scope;

typedef struct {
    int steps;           /* inner steps per batch (flexible: at most) */
    int flexible;        /* the stop controller picks the steps */
    int min_steps;       /* flexible: steps before it may stop */
    float step_penalty;  /* flexible: REINFORCE step penalty */
    float stop_lr;       /* flexible: Adam learning rate of the controller */
    int carry_state;     /* keep the LSTM state per coordinate */
    melon_scope scope;   /* touched rows or full tables */
    int hidden;          /* MetaLSTM width */
    float meta_lr;
    float clip;          /* meta-gradient clip by value */
    melon_meta_data meta_data;
} melon_s2meta_config;

extern const melon_settings_table melon_s2meta_settings;

#endif
